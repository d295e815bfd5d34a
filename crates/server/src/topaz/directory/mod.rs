//! Topaz's directory v3: reader, writer, model, importer and exporter, with Lictor's lookup and
//! explain paths beside them.

pub mod grpc;
pub mod import;
pub mod rest;
