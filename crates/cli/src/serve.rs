//! `lictor run`: starts the server and serves until SIGTERM or Ctrl-C.

use anyhow::{Context, Result};
use lictor_server::{Config, ServerError};
use std::io::Write;
use std::path::PathBuf;

/// Runs the server with the configuration file (if any); `--data-dir` overrides its `data_dir`.
pub fn run(data_dir: Option<PathBuf>, config_path: Option<PathBuf>, demo: bool) -> Result<()> {
    let (mut config, path) = match config_path {
        Some(path) => (Config::load(&path).map_err(anyhow::Error::new)?, path),
        None => (Config::default(), PathBuf::from("(defaults)")),
    };
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if demo && config.policies.dir.is_none() && config.policies.bundle.is_none() {
        // The demo's policies go beside its data, where they can be edited and are hot-reloaded.
        config.policies.dir = Some(super::write_demo_policies(
            &config.data_dir.join("demo-policies"),
        )?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Dropped before the runtime, which its last trace export still needs.
    let _log = runtime
        .block_on(async { lictor_server::logging::install(&config.log, &config.traces, &path) })
        .map_err(anyhow::Error::new)?;
    runtime.block_on(serve(config, path, demo))
}

async fn serve(config: Config, path: PathBuf, demo: bool) -> Result<()> {
    let running = lictor_server::server::start(config, path, lictor_server::api::routes)
        .await
        .map_err(|e: ServerError| anyhow::Error::new(e))?;
    if demo {
        let mut out = std::io::stderr().lock();
        super::load_demo(&running.state.tenants.default_tenant().store, &mut out)?;
    }
    {
        // One line per port, for people and for tests that start on port 0.
        let mut out = std::io::stdout().lock();
        for port in &running.ports {
            writeln!(out, "listening {} {}", port.name, port.address)?;
        }
        if let Some(ca) = &running.ca_cert {
            writeln!(out, "tls ca {}", ca.display())?;
        }
        writeln!(out, "ready")?;
        out.flush()?;
    }
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
