//! `POST /api/v3/lictor/import`: the body is an import file (JSON Lines, or a Topaz JSON document
//! `{"objects": [...]}` / `{"relations": [...]}`, as `lictor import` reads), imported all or nothing.
//! Records are checked and staged as the body arrives, without holding the store's writer; only a
//! body that ends cleanly with every record accepted is applied, in one revision. A bad record
//! answers `INVALID_ARGUMENT` naming its line; a body cut short answers with the read error; both
//! leave the directory as it was.

use crate::access::Access;
use crate::api_error::{ApiError, Code};
use crate::server::AppState;
use crate::service::directory as service;
use crate::tenant::Tenant;
use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Json, Router};
use lictor_store::{read_import, ImportChange, ImportRecord, ImportStage, StoreError};
use serde_json::{json, Value};
use std::io::{BufRead, Read};
use std::sync::Arc;
use tokio_stream::StreamExt as _;

/// The routes, to be merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/v3/lictor/import", post(import))
}

async fn import(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let chunks = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    // The parser is synchronous: it reads the body through a bridge, on a blocking thread.
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(chunks));
    let tenant = access.tenant.clone();
    let stage_limit = state.config.limits.max_import_bytes;
    let summary = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let imported = import_body(&tenant, &mut reader, stage_limit);
        if imported.is_err() {
            // A refusal comes before the client has sent everything: what it still sends (up to
            // the import limit) is read and dropped, so that it receives the answer rather than a
            // connection closed under its upload.
            let rest = u64::try_from(stage_limit).unwrap_or(u64::MAX);
            let _ = std::io::copy(&mut (&mut reader).take(rest), &mut std::io::sink());
        }
        imported
    })
    .await
    .map_err(|error| {
        ApiError::new(
            Code::Internal,
            format!("the import was not applied: {error}"),
        )
    })??;
    Ok(Json(json!({
        "objects": summary.objects,
        "relations": summary.relations,
        "revision": summary.revision,
    })))
}

/// Counts of an applied import.
struct Summary {
    objects: u64,
    relations: u64,
    revision: u64,
}

fn refused_at(line: u64) -> impl FnOnce(StoreError) -> StoreError {
    move |source| StoreError::ImportLineRefused {
        line,
        source: Box::new(source),
    }
}

fn import_body(
    tenant: &Tenant,
    reader: impl BufRead,
    stage_limit: usize,
) -> Result<Summary, ApiError> {
    let mut stage = ImportStage::new(stage_limit);
    let (mut objects, mut relations) = (0u64, 0u64);
    read_import(reader, |item| {
        let change = match item.record {
            ImportRecord::Object(object) => {
                objects += 1;
                ImportChange::SetObject(object)
            }
            ImportRecord::Relation(relation) => {
                relations += 1;
                ImportChange::SetRelation(relation)
            }
        };
        let line = u64::try_from(item.line).unwrap_or(u64::MAX);
        tenant
            .store
            .check_import_change(&change)
            .map_err(refused_at(line))?;
        stage.push(line, &change)
    })
    .map_err(service::store_error)?;
    let revision = tenant
        .store
        .apply_import(&stage, |line, _, result| {
            result.map(|_| ()).map_err(refused_at(line))
        })
        .map_err(service::store_error)?;
    Ok(Summary {
        objects,
        relations,
        revision,
    })
}
