//! What the server tells operators: `tracing` events written to standard error as text or JSON
//! lines, filtered by `log.level` (or `RUST_LOG`), through a background writer so that a slow
//! terminal or pipe never holds up a request; and, when `traces.otlp_endpoint` is set, spans
//! (request, identity, policy evaluation, directory check) exported as OpenTelemetry traces over OTLP.
//!
//! Spans are created at DEBUG level under the `lictor::trace` target: the log's default filter leaves
//! them disabled, so they cost nothing unless traces are exported or debug logging is asked for.

use crate::config::{Log, LogFormat, Traces};
use crate::ServerError;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use std::path::Path;
use std::time::Duration;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The target of every span that traces export.
pub const TRACE_TARGET: &str = "lictor::trace";

/// Keeps the background writer and the trace exporter running; dropping it flushes both. Drop it
/// where no async runtime is being driven (the exporter's flush waits on the runtime's workers).
pub struct LogGuard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
    traces: Option<SdkTracerProvider>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("traces: the last spans were not exported: {error}");
            }
        }
    }
}

/// The filter `log.level` gives, unless `RUST_LOG` is set; a bad one names the setting at fault.
pub fn filter(config: &Log, config_path: &Path) -> Result<EnvFilter, ServerError> {
    let (directives, origin) = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => (value, "RUST_LOG"),
        _ => (config.level.clone(), "log.level"),
    };
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|error| ServerError::Config {
            path: config_path.to_path_buf(),
            line: None,
            message: format!("{origin} {directives:?}: {error}"),
        })
}

/// Installs the process-wide subscriber. Call once, inside the async runtime (the trace exporter's
/// connection lives on it), before the server starts.
pub fn install(log: &Log, traces: &Traces, config_path: &Path) -> Result<LogGuard, ServerError> {
    let filter = filter(log, config_path)?;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let lines = match log.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .boxed(),
    }
    .with_filter(filter);
    let provider = if traces.otlp_endpoint.is_empty() {
        None
    } else {
        Some(tracer_provider(traces, config_path)?)
    };
    let spans = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("lictor"))
            .with_filter(
                Targets::new()
                    .with_target(TRACE_TARGET, LevelFilter::DEBUG)
                    .with_default(LevelFilter::OFF),
            )
    });
    tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .try_init()
        .map_err(|error| ServerError::Config {
            path: config_path.to_path_buf(),
            line: None,
            message: format!("log: {error}"),
        })?;
    Ok(LogGuard {
        _writer: guard,
        traces: provider,
    })
}

fn tracer_provider(traces: &Traces, config_path: &Path) -> Result<SdkTracerProvider, ServerError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(traces.otlp_endpoint.clone())
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| ServerError::Config {
            path: config_path.to_path_buf(),
            line: None,
            message: format!("traces.otlp_endpoint {:?}: {error}", traces.otlp_endpoint),
        })?;
    let batches = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(traces.export_delay_ms))
                .build(),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            traces.sample_ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(traces.service_name.clone())
                .build(),
        )
        .build())
}

/// Reads a W3C `traceparent` from HTTP or gRPC headers.
struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// The span of one API request, continuing the caller's trace when it sent a `traceparent`.
pub fn request_span(headers: &axum::http::HeaderMap, path: &str) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::debug_span!(target: TRACE_TARGET, "request", path, request_id = tracing::field::Empty, tenant = tracing::field::Empty);
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(headers))
        });
        // A context without a remote span leaves the span a root.
        let _ = span.set_parent(parent);
    }
    span
}
