//! The web console: static files under `/ui/` on the console port, beside the whole REST API, so the
//! page calls the API on its own origin. The files are compiled into the binary (see `build.rs`), or
//! read from `console.assets_dir` when one is configured.

use crate::config::Console;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// What the page may load and call: its own files and its own origin's API, nothing inline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Where the console's files come from.
#[derive(Debug, Clone)]
struct Assets {
    /// A directory to read them from on every request, instead of the compiled-in copy.
    dir: Option<PathBuf>,
}

/// The console port's router: the console under `/ui/`, every other path to `api`.
pub fn routes(settings: &Console, api: Router) -> Router {
    let assets = Arc::new(Assets {
        dir: settings.assets_dir.clone(),
    });
    Router::new()
        .route("/", get(to_console))
        .route("/ui", get(to_console))
        .route("/ui/", get(index))
        .route("/ui/{*file}", get(file))
        .with_state(assets)
        .fallback_service(api)
}

async fn to_console() -> Redirect {
    Redirect::permanent("/ui/")
}

async fn index(State(assets): State<Arc<Assets>>, headers: HeaderMap) -> Response {
    serve(&assets, "index.html", &headers).await
}

async fn file(
    State(assets): State<Arc<Assets>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&assets, &file, &headers).await
}

/// One file, with its type, an etag and the console's security headers; 404 for anything else.
async fn serve(assets: &Assets, name: &str, headers: &HeaderMap) -> Response {
    let Some((bytes, etag)) = read(assets, name).await else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(bytes))
    };
    let fields = response.headers_mut();
    fields.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    fields.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    fields.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    fields.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    fields.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Revalidated on every load, so a new binary's console is never mixed with an old one's.
    fields.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        fields.insert(header::ETAG, value);
    }
    response
}

/// The etag of a console file's bytes, quoted.
fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", crate::manifest::etag_bytes(bytes))
}

/// The etags of the compiled-in files, in the order of [`ASSETS`], computed once.
fn embedded_etags() -> &'static [String] {
    static ETAGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|(_, bytes)| etag_of(bytes)).collect())
}

/// The bytes of a console file and their etag, from the configured directory (read on every
/// request) or the compiled-in copy.
async fn read(assets: &Assets, name: &str) -> Option<(Bytes, String)> {
    // Only plain relative names: no parent steps, no absolute or hidden paths.
    let plain = name
        .split('/')
        .all(|part| !part.is_empty() && !part.starts_with('.') && !part.contains('\\'));
    if !plain {
        return None;
    }
    match &assets.dir {
        Some(dir) => {
            let bytes = tokio::fs::read(dir.join(name)).await.ok()?;
            let etag = etag_of(&bytes);
            Some((Bytes::from(bytes), etag))
        }
        None => {
            let index = ASSETS.iter().position(|(path, _)| *path == name)?;
            let (_, bytes) = ASSETS.get(index)?;
            let etag = embedded_etags().get(index)?.clone();
            Some((Bytes::from_static(bytes), etag))
        }
    }
}

/// The media type of a console file, from its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
