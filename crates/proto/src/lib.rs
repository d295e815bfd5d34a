//! Protobuf definitions of the Topaz-compatible gRPC APIs, compiled to Rust.
//!
//! This crate owns the wire contract with Aserto/Topaz and Cerbos clients: the
//! `aserto.directory.*.v3` packages (reader, writer, model, importer,
//! exporter and their common types) and the `aserto.authorizer.v2` packages.
//! Package, service, method, message and field names and field numbers match
//! Topaz's public API exactly, so its client SDKs work unchanged.
//!
//! Every package module holds:
//! * prost message types (binary wire format),
//! * tonic server traits and `*Server` wrappers (`<service>_server` modules)
//!   and `*Client` stubs (`<service>_client` modules),
//! * serde impls following protojson as Topaz's REST gateway emits it:
//!   proto field names, unpopulated scalar fields emitted, enums as names
//!   (names or numbers accepted), 64-bit integers as strings, bytes as
//!   base64, `Struct`/`Value` as plain JSON, `Timestamp` as RFC 3339, and
//!   unknown fields ignored on input.
//!
//! The `cerbos.*.v1` packages carry Cerbos's policy decision API (`CerbosService`: CheckResources,
//! PlanResources, ServerInfo) with Cerbos's field numbers, so its SDKs work unchanged. Their serde
//! impls follow protojson's defaults as Cerbos's REST API uses them: lowerCamelCase names (proto
//! names accepted too), unpopulated fields left out, unknown fields refused.
//!
//! Well-known types come from [`pbjson_types`], re-exported here as
//! [`wkt`]. The HTTP mapping of each method is listed in `REST.md`.

/// Encoded `google.protobuf.FileDescriptorSet` of every file in this crate
/// (with its imports), for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod codec;

/// Protobuf well-known types (`google.protobuf.*`) with protojson serde.
pub use pbjson_types as wkt;

macro_rules! package {
    ($(#[$meta:meta])* $name:ident, $file:literal) => {
        $(#[$meta])*
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            clippy::indexing_slicing
        )]
        pub mod $name {
            include!(concat!(env!("OUT_DIR"), "/", $file, ".rs"));
            include!(concat!(env!("OUT_DIR"), "/", $file, ".serde.rs"));
        }
    };
}

/// Directory API (`aserto.directory.*`).
pub mod directory {
    /// Shared directory types.
    pub mod common {
        package!(
            /// `aserto.directory.common.v3`: objects, relations, identifiers, paging.
            v3,
            "aserto.directory.common.v3"
        );
    }
    /// Directory read service.
    pub mod reader {
        package!(
            /// `aserto.directory.reader.v3`: the `Reader` service.
            v3,
            "aserto.directory.reader.v3"
        );
    }
    /// Directory write service.
    pub mod writer {
        package!(
            /// `aserto.directory.writer.v3`: the `Writer` service.
            v3,
            "aserto.directory.writer.v3"
        );
    }
    /// Directory model (manifest) service.
    pub mod model {
        package!(
            /// `aserto.directory.model.v3`: the `Model` service.
            v3,
            "aserto.directory.model.v3"
        );
    }
    /// Directory bulk import service.
    pub mod importer {
        package!(
            /// `aserto.directory.importer.v3`: the `Importer` service.
            v3,
            "aserto.directory.importer.v3"
        );
    }
    /// Directory bulk export service.
    pub mod exporter {
        package!(
            /// `aserto.directory.exporter.v3`: the `Exporter` service.
            v3,
            "aserto.directory.exporter.v3"
        );
    }
}

/// Authorizer API (`aserto.authorizer.*`).
pub mod authorizer {
    /// `aserto.authorizer.v2`: the `Authorizer` service.
    #[allow(
        missing_docs,
        clippy::all,
        clippy::pedantic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/aserto.authorizer.v2.rs"));
        include!(concat!(env!("OUT_DIR"), "/aserto.authorizer.v2.serde.rs"));

        package!(
            /// `aserto.authorizer.v2.api`: identity, policy and decision-log types.
            api,
            "aserto.authorizer.v2.api"
        );
    }
}

/// Cerbos's policy decision API (`cerbos.*.v1`).
pub mod cerbos {
    /// Effects of actions.
    pub mod effect {
        package!(
            /// `cerbos.effect.v1`: `Effect`.
            v1,
            "cerbos.effect.v1"
        );
    }
    /// Schema validation findings.
    pub mod schema {
        package!(
            /// `cerbos.schema.v1`: `ValidationError`.
            v1,
            "cerbos.schema.v1"
        );
    }
    /// Request context for the audit trail.
    pub mod audit {
        package!(
            /// `cerbos.audit.v1`: `RequestContext`.
            v1,
            "cerbos.audit.v1"
        );
    }
    /// Principals, resources, outputs and plan filters.
    pub mod engine {
        package!(
            /// `cerbos.engine.v1`: the inputs and outputs of a decision.
            v1,
            "cerbos.engine.v1"
        );
    }
    /// Requests of the `CerbosService`.
    pub mod request {
        package!(
            /// `cerbos.request.v1`: CheckResources, PlanResources and ServerInfo requests.
            v1,
            "cerbos.request.v1"
        );
    }
    /// Responses of the `CerbosService`.
    pub mod response {
        package!(
            /// `cerbos.response.v1`: CheckResources, PlanResources and ServerInfo responses.
            v1,
            "cerbos.response.v1"
        );
    }
    /// The service.
    pub mod svc {
        /// `cerbos.svc.v1`: the `CerbosService` (gRPC server and client).
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            clippy::indexing_slicing
        )]
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cerbos.svc.v1.rs"));
        }
    }
}

/// Lictor's own services (`lictor.*`).
pub mod lictor {
    /// Decision-log shipping and following.
    pub mod decisions {
        package!(
            /// `lictor.decisions.v1`: the `DecisionLogs` service.
            v1,
            "lictor.decisions.v1"
        );
    }
    /// Edge replicas following a central directory.
    pub mod replication {
        package!(
            /// `lictor.replication.v1`: the `Replication` service.
            v1,
            "lictor.replication.v1"
        );
    }
}
