//! Prometheus metrics: requests and their latency per method, decisions by outcome, policy reloads by
//! outcome, and the decision log's queue.

use crate::decision_log::DecisionLog;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::RwLock;
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

/// The handles of one route's request metrics, resolved on its first request so that counting the
/// next ones neither allocates label strings nor hashes label sets.
struct RouteMetrics {
    /// The HTTP method the route answers (gRPC: POST).
    method: axum::http::Method,
    /// The `method` label: `POST /api/v3/directory/check`, or the gRPC path.
    label: String,
    /// The `code="ok"` counter, by far the most frequent.
    ok: Counter,
    /// The latency histogram.
    latency: Histogram,
}

/// Routes' resolved metrics by path, then method; one table per transport.
#[derive(Default)]
struct RouteTable(RwLock<HashMap<String, Vec<RouteMetrics>>>);

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<MethodLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    rest_routes: RouteTable,
    grpc_routes: RouteTable,
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
            rest_routes: RouteTable::default(),
            grpc_routes: RouteTable::default(),
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

    /// Counts a finished REST request to the route `path` (the router's pattern, or `unmatched`).
    pub fn rest_request(
        &self,
        method: &axum::http::Method,
        path: &str,
        code: &str,
        elapsed: Duration,
    ) {
        self.route_request(&self.rest_routes, "rest", method, path, code, elapsed);
    }

    /// Counts a finished gRPC call of `path` (`/package.Service/Method`, or `unmatched`).
    pub fn grpc_request(&self, path: &str, code: &str, elapsed: Duration) {
        let post = axum::http::Method::POST;
        self.route_request(&self.grpc_routes, "grpc", &post, path, code, elapsed);
    }

    fn route_request(
        &self,
        table: &RouteTable,
        transport: &'static str,
        method: &axum::http::Method,
        path: &str,
        code: &str,
        elapsed: Duration,
    ) {
        let count = |route: &RouteMetrics| {
            if code == "ok" {
                route.ok.inc();
            } else {
                self.requests
                    .get_or_create(&MethodLabels {
                        method: route.label.clone(),
                        transport,
                        code: code.to_string(),
                    })
                    .inc();
            }
            route.latency.observe(elapsed.as_secs_f64());
        };
        {
            let routes = table
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let found = routes
                .get(path)
                .and_then(|methods| methods.iter().find(|r| r.method == *method));
            if let Some(route) = found {
                count(route);
                return;
            }
        }
        // A request no route matched is counted under `unmatched` alone, whatever its method.
        let label = if transport == "grpc" || path == "unmatched" {
            path.to_string()
        } else {
            format!("{method} {path}")
        };
        let route = RouteMetrics {
            method: method.clone(),
            ok: self
                .requests
                .get_or_create(&MethodLabels {
                    method: label.clone(),
                    transport,
                    code: "ok".to_string(),
                })
                .clone(),
            latency: self
                .latency
                .get_or_create(&LatencyLabels {
                    method: label.clone(),
                    transport,
                })
                .clone(),
            label,
        };
        count(&route);
        let mut routes = table
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let methods = routes.entry(path.to_string()).or_default();
        if !methods.iter().any(|r| r.method == *method) {
            methods.push(route);
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn text(metrics: &Metrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &metrics.registry).unwrap();
        out
    }

    #[test]
    fn requests_are_counted_by_route_method_transport_and_code() {
        let metrics = Metrics::new();
        let ms = Duration::from_millis(1);
        let path = "/api/v3/directory/object/{object_type}/{object_id}";
        metrics.rest_request(&Method::GET, path, "ok", ms);
        metrics.rest_request(&Method::GET, path, "ok", ms);
        metrics.rest_request(&Method::DELETE, path, "ok", ms);
        metrics.rest_request(&Method::GET, path, "404", ms);
        metrics.grpc_request("/aserto.directory.reader.v3.Reader/Check", "ok", ms);
        metrics.grpc_request("unmatched", "unimplemented", ms);
        metrics.rest_request(&Method::POST, "unmatched", "404", ms);
        let out = text(&metrics);
        let get = format!("GET {path}");
        let delete = format!("DELETE {path}");
        for (line, value) in [
            (format!(r#"lictor_requests_total{{method="{get}",transport="rest",code="ok"}}"#), 2),
            (format!(r#"lictor_requests_total{{method="{get}",transport="rest",code="404"}}"#), 1),
            (format!(r#"lictor_requests_total{{method="{delete}",transport="rest",code="ok"}}"#), 1),
            (
                r#"lictor_requests_total{method="/aserto.directory.reader.v3.Reader/Check",transport="grpc",code="ok"}"#.to_string(),
                1,
            ),
            (r#"lictor_requests_total{method="unmatched",transport="grpc",code="unimplemented"}"#.to_string(), 1),
            (r#"lictor_requests_total{method="unmatched",transport="rest",code="404"}"#.to_string(), 1),
            (format!(r#"lictor_request_duration_seconds_count{{method="{get}",transport="rest"}}"#), 3),
        ] {
            assert!(out.contains(&format!("{line} {value}\n")), "{line} {value} not in:\n{out}");
        }
    }
}
