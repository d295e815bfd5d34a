//! Accepting connections: each port takes TLS and, when allowed, plaintext (told apart by the first
//! byte, 0x16 being a TLS handshake), then serves HTTP/1.1 or HTTP/2 (gRPC included) from one router.

use crate::ServerError;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// First byte of a TLS ClientHello record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Receive window of one HTTP/2 stream: how much a client may send on it that the server has not
/// read yet (gRPC's own default). h2 counts every buffered DATA frame under 256 bytes against a
/// budget of half the connection window, and cuts the connection with GOAWAY `too_many_data_frames`
/// when it runs out. A gRPC import sends one small frame a message (about 60 bytes for a relation);
/// with hyper's default windows (1 MiB) a client could buffer some 17,000 of them, costing nearly
/// seven times the 512 KiB budget, whenever the server fell behind. With 64 KiB, flow control stops a client long before:
/// a stream that is not read costs at most 2 MiB of budget even in 8-byte frames.
const STREAM_WINDOW: u32 = 64 << 10;

/// Receive window of one HTTP/2 connection, across its streams: what one client may make the server
/// buffer. It also sets h2's small-frame budget (half of it, 2 MiB).
const CONNECTION_WINDOW: u32 = 4 << 20;

/// How often an HTTP/2 connection is pinged, so that a peer that vanished without closing it
/// (a dead network path, a frozen client) frees its streams.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// How long a ping may go unanswered before the connection is closed.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Streams an HTTP/2 client may reset before the server has accepted them, and streams the
/// server may reset for protocol errors, before the connection is closed (the "rapid reset" and
/// "made you reset" floods).
const MAX_RESET_STREAMS: usize = 20;

/// What a port accepts.
#[derive(Clone)]
pub struct Transport {
    /// TLS, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether plaintext connections are served.
    pub plaintext: bool,
    /// Bounds on slow and idle clients.
    pub limits: ConnectionLimits,
}

/// Bounds on what a client may hold open without making progress.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From accepting a connection to its TLS handshake done, and to an HTTP/1 request's headers
    /// read: a client that sends them slower is disconnected.
    pub handshake_timeout: Duration,
    /// Longest pause within a request body (a REST body, a gRPC request stream): past it the
    /// request fails as a broken stream, and nothing it sent is applied.
    pub body_idle_timeout: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            handshake_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(60),
            max_concurrent_streams: 256,
        }
    }
}

/// Binds `address` now, so that a taken port is a start-up error.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets open requests finish (up to
/// `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    transport: Transport,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let acceptor = transport.tls.clone().map(TlsAcceptor::from);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let plaintext = transport.plaintext;
        let limits = transport.limits;
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(connection) = Connection::open(stream, acceptor, plaintext, &limits).await
            else {
                tracing::debug!(%peer, "connection refused: protocol not offered");
                return;
            };
            let scheme = match connection {
                Connection::Plain(_) => Scheme("http"),
                Connection::Tls(_) => Scheme("https"),
            };
            let idle = limits.body_idle_timeout;
            let service = TowerToHyperService::new(
                tower::ServiceBuilder::new()
                    .map_request(move |request: axum::http::Request<Incoming>| {
                        request.map(|body| crate::idle_body::IdleBody::new(body, idle))
                    })
                    .service(router.layer(axum::Extension(scheme))),
            );
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.handshake_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .max_concurrent_streams(limits.max_concurrent_streams)
                .max_pending_accept_reset_streams(MAX_RESET_STREAMS)
                .max_local_error_reset_streams(MAX_RESET_STREAMS)
                .keep_alive_interval(KEEP_ALIVE_INTERVAL)
                .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
            let result = match connection {
                Connection::Plain(stream) => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Connection::Tls(stream) => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(*stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("shutdown grace period over; closing open connections"),
    }
}

/// The scheme a request came in on (`http` or `https`), for answers that name the server's URL.
#[derive(Debug, Clone, Copy)]
pub struct Scheme(pub &'static str);

enum Connection {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Connection {
    async fn open(
        stream: TcpStream,
        acceptor: Option<TlsAcceptor>,
        plaintext: bool,
        limits: &ConnectionLimits,
    ) -> Option<Connection> {
        let mut first = [0u8; 1];
        // A client that sends nothing for long is not worth a task.
        let started = tokio::time::Instant::now();
        let deadline = started + limits.handshake_timeout;
        let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)).await;
        if !matches!(peeked, Ok(Ok(1))) {
            // Silent past the deadline, closed, or failed: nothing to serve.
            return None;
        }
        let is_tls = first == [TLS_HANDSHAKE];
        match (is_tls, acceptor) {
            (true, Some(acceptor)) => {
                match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => Some(Connection::Tls(Box::new(tls))),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake too slow");
                        None
                    }
                }
            }
            (false, _) if plaintext => Some(Connection::Plain(stream)),
            _ => None,
        }
    }
}
