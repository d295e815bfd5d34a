//! `lictor run`: starts the server and serves until SIGTERM or Ctrl-C.

use anyhow::{Context, Result};
use lictor_server::{Config, ServerError};
use std::io::Write;
use std::path::PathBuf;

/// `--cerbos-config FILE` and its `--set` overrides.
pub struct CerbosFlags {
    /// The Cerbos configuration file.
    pub file: PathBuf,
    /// `key.path=value` overrides.
    pub overrides: Vec<String>,
}

/// Runs the server with the configuration file (if any); `--data-dir` overrides its `data_dir`, and
/// `--store` its `store`.
/// With a Cerbos configuration file and no Lictor one, serves Cerbos's API alone.
pub fn run(
    data_dir: Option<PathBuf>,
    store: Option<String>,
    config_path: Option<PathBuf>,
    demo: bool,
    cerbos: Option<CerbosFlags>,
    follow: Option<String>,
) -> Result<()> {
    let cerbos_settings = cerbos
        .map(|flags| lictor_server::cerbos::config::load(&flags.file, &flags.overrides))
        .transpose()
        .map_err(anyhow::Error::new)?;
    let cerbos_only = config_path.is_none() && !demo && cerbos_settings.is_some();
    let (mut config, path) = match config_path {
        Some(path) => (Config::load(&path).map_err(anyhow::Error::new)?, path),
        None => (Config::default(), PathBuf::from("(defaults)")),
    };
    if cerbos_settings.is_some() {
        config.cerbos = cerbos_settings;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if store.is_some() {
        config.store = store;
    }
    if let Some(url) = follow {
        let mut section = config.follow.take().unwrap_or_default();
        section.url = url;
        config.follow = Some(section);
    }
    config.validate(&path).map_err(anyhow::Error::new)?;
    // The demo's AuthZEN mappings name its Rego and Cerbos policies: only with both.
    let demo_authzen = demo
        && config.policies.dir.is_none()
        && config.policies.bundle.is_none()
        && config.cerbos.is_none()
        && config.authzen.mappings.is_empty();
    if demo && config.policies.dir.is_none() && config.policies.bundle.is_none() {
        // The demo's policies go beside its data, where they can be edited and are hot-reloaded.
        config.policies.dir = Some(super::write_demo_policies(
            &config.data_dir.join("demo-policies"),
        )?);
    }
    if demo_authzen {
        config.authzen = lictor_server::authzen::config::AuthzenSettings::from_yaml(
            super::DEMO_AUTHZEN,
            "examples/demo/authzen.yaml",
        )
        .map_err(anyhow::Error::msg)?;
    }
    if demo && config.cerbos.is_none() {
        // The demo's Cerbos policies, served on Lictor's own ports only.
        let dir = super::write_demo_cerbos_policies(&config.data_dir.join("demo-cerbos"))?;
        let mut settings = lictor_server::cerbos::config::settings_for_directory(dir);
        settings.http_listen = None;
        settings.grpc_listen = None;
        config.cerbos = Some(settings);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // A task woken into a worker's LIFO slot cannot be stolen: when the OS preempts that worker (a
    // sidecar shares its cores with the application), an HTTP/2 connection's task waited there for a
    // whole time slice, and gRPC's p99 was 4 ms where its p50 was 0.35 ms.
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    let runtime = builder.build().context("starting the async runtime")?;
    // Dropped before the runtime, which its last trace export still needs.
    let _log = runtime
        .block_on(async { lictor_server::logging::install(&config.log, &config.traces, &path) })
        .map_err(anyhow::Error::new)?;
    if cerbos_only {
        return runtime.block_on(serve_cerbos(config));
    }
    runtime.block_on(serve(config, path, demo))
}

/// Serves Cerbos's API alone, as `cerbos server` does.
async fn serve_cerbos(config: Config) -> Result<()> {
    let Some(settings) = config.cerbos else {
        return Ok(());
    };
    let running = lictor_server::cerbos::start(settings, &config.decision_logs)
        .await
        .map_err(anyhow::Error::new)?;
    announce(&running.ports, None)?;
    shutdown_signal().await;
    eprintln!("shutting down");
    running.stop().await;
    Ok(())
}

/// One line per port, for people and for tests that start on port 0, then `ready`.
fn announce(
    ports: &[lictor_server::server::BoundPort],
    ca: Option<&std::path::Path>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for port in ports {
        writeln!(out, "listening {} {}", port.name, port.address)?;
    }
    if let Some(ca) = ca {
        writeln!(out, "tls ca {}", ca.display())?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    Ok(())
}

async fn serve(config: Config, path: PathBuf, demo: bool) -> Result<()> {
    let running = lictor_server::server::start(config, path, lictor_server::api::routes)
        .await
        .map_err(|e: ServerError| anyhow::Error::new(e))?;
    // An edge replica's directory comes from its center; the demo brings its policies only.
    if demo && running.state.config.follow.is_none() {
        let mut out = std::io::stderr().lock();
        super::load_demo(&running.state.tenants.default_tenant().store, &mut out)?;
    }
    announce(&running.ports, running.ca_cert.as_deref())?;
    shutdown_signal().await;
    eprintln!("shutting down");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
