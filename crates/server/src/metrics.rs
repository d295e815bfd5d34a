//! Prometheus metrics: requests and their latency per method, decisions by outcome, policy reloads by
//! outcome, and the decision log's queue.

use crate::decision_log::DecisionLog;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Labels of a request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// `Is`, `Check`, `GetObject`, …
    pub method: String,
    /// `grpc` or `rest`.
    pub transport: &'static str,
    /// `ok` or an error code name.
    pub code: String,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// The method.
    pub method: String,
    /// `grpc` or `rest`.
    pub transport: &'static str,
}

/// Labels of a decision counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `is`, `check`, …
    pub kind: &'static str,
    /// `allowed` or `denied`.
    pub outcome: &'static str,
}

/// Labels of the evaluation-limit counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// `time`, `memory` or `concurrency` (Rego), `cel_time` (Cerbos conditions).
    pub limit: &'static str,
}

/// Labels of a policy reload counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// The tenant's id (empty for the default tenant).
    pub tenant: String,
    /// `loaded` (the changed policies serve) or `refused` (they did not compile; the previous ones serve).
    pub outcome: &'static str,
}

/// `lictor_policy_reloads_total`: reloads of changed policy files, by tenant and outcome. A handle on the
/// registered counter, for the reload tasks.
#[derive(Clone, Default)]
pub struct PolicyReloads(Family<ReloadLabels, Counter>);

impl PolicyReloads {
    /// Shows both outcomes of `tenant` from the start, at zero, so that the first reload is an increment.
    pub fn watch(&self, tenant: &str) {
        for outcome in ["loaded", "refused"] {
            self.counter(tenant, outcome);
        }
    }

    /// Counts a reload whose policies now serve.
    pub fn loaded(&self, tenant: &str) {
        self.counter(tenant, "loaded").inc();
    }

    /// Counts a reload refused because the changed policies did not load.
    pub fn refused(&self, tenant: &str) {
        self.counter(tenant, "refused").inc();
    }

    fn counter(&self, tenant: &str, outcome: &'static str) -> Counter {
        self.0
            .get_or_create(&ReloadLabels {
                tenant: tenant.to_string(),
                outcome,
            })
            .clone()
    }
}

/// `lictor_evaluation_limits_total`: evaluations stopped by a bound. A handle on the registered
/// counter, for services built before the server's state (Cerbos's API).
#[derive(Clone, Default)]
pub struct EvaluationLimits(Family<LimitLabels, Counter>);

impl EvaluationLimits {
    /// Counts an evaluation stopped by `limit`.
    pub fn count(&self, limit: &'static str) {
        self.0.get_or_create(&LimitLabels { limit }).inc();
    }
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<MethodLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    limits: EvaluationLimits,
    policy_reloads: PolicyReloads,
    log_queue: Gauge,
    log_dropped: Gauge,
    log_written: Gauge,
    directory_revision: Gauge,
    directory_lag: Gauge,
    log_shipping: ShippingGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lictor");
        let requests = Family::<MethodLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests handled, by method and result",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            // 10 µs to ~5 s.
            Histogram::new(exponential_buckets(0.000_01, 2.5, 15))
        });
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by method",
            latency.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions made, by kind and outcome",
            decisions.clone(),
        );
        let limits = EvaluationLimits::default();
        registry.register(
            "evaluation_limits",
            "Policy evaluations stopped by a bound, by bound (time, memory, concurrency, cel_time)",
            limits.0.clone(),
        );
        let policy_reloads = PolicyReloads::default();
        registry.register(
            "policy_reloads",
            "Reloads of changed policy files, by tenant and outcome (loaded or refused)",
            policy_reloads.0.clone(),
        );
        let log_queue = Gauge::default();
        registry.register(
            "decision_log_queue_depth",
            "Decision records waiting to be written",
            log_queue.clone(),
        );
        let log_dropped = Gauge::default();
        registry.register(
            "decision_log_dropped",
            "Decision records dropped because the queue was full (total)",
            log_dropped.clone(),
        );
        let log_written = Gauge::default();
        registry.register(
            "decision_log_written",
            "Decision records written (total)",
            log_written.clone(),
        );
        let directory_revision = Gauge::default();
        registry.register(
            "directory_revision",
            "The default tenant's directory revision this process has applied",
            directory_revision.clone(),
        );
        let directory_lag = Gauge::default();
        registry.register(
            "directory_lag_revisions",
            "How many revisions the shared store was last seen ahead of this process",
            directory_lag.clone(),
        );
        let log_shipping = ShippingGauges::register(&mut registry);
        Metrics {
            log_shipping,
            registry,
            requests,
            latency,
            decisions,
            limits,
            policy_reloads,
            log_queue,
            log_dropped,
            log_written,
            directory_revision,
            directory_lag,
        }
    }

    /// The policy reload counter, for the reload tasks.
    pub fn policy_reloads(&self) -> PolicyReloads {
        self.policy_reloads.clone()
    }

    /// Counts a finished request.
    pub fn request(&self, method: &str, transport: &'static str, code: &str, elapsed: Duration) {
        self.requests
            .get_or_create(&MethodLabels {
                method: method.to_string(),
                transport,
                code: code.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method: method.to_string(),
                transport,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts decisions.
    pub fn decisions(&self, kind: &'static str, allowed: usize, denied: usize) {
        if allowed > 0 {
            self.decisions
                .get_or_create(&DecisionLabels {
                    kind,
                    outcome: "allowed",
                })
                .inc_by(allowed as u64);
        }
        if denied > 0 {
            self.decisions
                .get_or_create(&DecisionLabels {
                    kind,
                    outcome: "denied",
                })
                .inc_by(denied as u64);
        }
    }

    /// Counts an evaluation stopped by a bound.
    pub fn evaluation_limit(&self, limit: &'static str) {
        self.limits.count(limit);
    }

    /// The evaluation-limit counter, for services built before the server's state.
    pub fn evaluation_limits(&self) -> EvaluationLimits {
        self.limits.clone()
    }

    /// The text exposition, with the decision log's gauges read now.
    pub fn render(&self, log: &DecisionLog, directory: &lictor_store::Store) -> String {
        self.directory_revision
            .set(i64::try_from(directory.revision()).unwrap_or(i64::MAX));
        self.directory_lag
            .set(i64::try_from(directory.lag()).unwrap_or(i64::MAX));
        let stats = log.stats();
        self.log_queue
            .set(i64::try_from(log.queue_depth()).unwrap_or(i64::MAX));
        self.log_dropped
            .set(i64::try_from(stats.dropped.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
        self.log_written
            .set(i64::try_from(stats.written.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
        self.log_shipping.read(log);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}

/// Gauges of decision-log shipping: what a shipping instance sent, dropped and still holds, and what
/// a center received.
#[derive(Clone)]
struct ShippingGauges {
    shipped: Gauge,
    dropped: Gauge,
    pending: Gauge,
    received: Gauge,
    duplicates: Gauge,
    table_written: Gauge,
    table_dropped: Gauge,
}

impl ShippingGauges {
    fn register(registry: &mut Registry) -> ShippingGauges {
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        ShippingGauges {
            shipped: gauge(
                "decision_log_shipped",
                "Decision records acknowledged by the center they are shipped to (total)",
            ),
            dropped: gauge(
                "decision_log_ship_dropped",
                "Decision records not shipped because the shipping buffer was full (total)",
            ),
            pending: gauge(
                "decision_log_ship_pending_bytes",
                "Bytes of decision records buffered for the center",
            ),
            received: gauge(
                "decision_log_received",
                "Decision records received from other instances and stored (total)",
            ),
            duplicates: gauge(
                "decision_log_received_duplicates",
                "Decision records received again and skipped (total)",
            ),
            table_written: gauge(
                "decision_log_table_written",
                "Decision records inserted into the PostgreSQL decision table (total)",
            ),
            table_dropped: gauge(
                "decision_log_table_dropped",
                "Decision records left out of the decision table because its queue was full (total)",
            ),
        }
    }

    fn read(&self, log: &DecisionLog) {
        let stats = log.stats();
        let set = |gauge: &Gauge, value: u64| gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        set(&self.shipped, stats.shipped.load(Ordering::Relaxed));
        set(&self.dropped, stats.ship_dropped.load(Ordering::Relaxed));
        set(
            &self.pending,
            log.shipping().map_or(0, |buffer| buffer.pending_bytes()),
        );
        set(&self.received, stats.received.load(Ordering::Relaxed));
        set(&self.duplicates, stats.duplicates.load(Ordering::Relaxed));
        set(
            &self.table_written,
            stats.table_written.load(Ordering::Relaxed),
        );
        set(
            &self.table_dropped,
            stats.table_dropped.load(Ordering::Relaxed),
        );
    }
}
