//! Compiles the `.proto` files under `proto/` without a system `protoc`:
//! `protox` parses them into a descriptor set, `tonic-prost-build` emits the
//! messages and gRPC stubs, and `pbjson-build` emits protojson serde impls
//! (Topaz's gateway style for `aserto.*`, protojson's defaults for `cerbos.*`).

use std::error::Error;
use std::path::PathBuf;

use prost::Message as _;

const PROTO_ROOT: &str = "proto";

const PROTOS: &[&str] = &[
    "aserto/directory/common/v3/common.proto",
    "aserto/directory/reader/v3/reader.proto",
    "aserto/directory/writer/v3/writer.proto",
    "aserto/directory/model/v3/model.proto",
    "aserto/directory/importer/v3/importer.proto",
    "aserto/directory/exporter/v3/exporter.proto",
    "aserto/authorizer/v2/api/identity_context.proto",
    "aserto/authorizer/v2/api/policy_context.proto",
    "aserto/authorizer/v2/api/policy_instance.proto",
    "aserto/authorizer/v2/api/module.proto",
    "aserto/authorizer/v2/api/decision_logs.proto",
    "aserto/authorizer/v2/authorizer.proto",
    "cerbos/effect/v1/effect.proto",
    "cerbos/schema/v1/schema.proto",
    "cerbos/audit/v1/audit.proto",
    "cerbos/engine/v1/engine.proto",
    "cerbos/request/v1/request.proto",
    "cerbos/response/v1/response.proto",
    "cerbos/svc/v1/svc.proto",
    "lictor/decisions/v1/decisions.proto",
    "lictor/replication/v1/replication.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    println!("cargo:rerun-if-changed=build.rs");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // Parse; keep imported well-known types so reflection clients can resolve them.
    let fds = protox::Compiler::new([PROTO_ROOT])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(PROTOS)?
        .file_descriptor_set();

    let encoded = fds.encode_to_vec();
    std::fs::write(out_dir.join("descriptor.bin"), &encoded)?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::codec::ProtoCodec")
        // Needed so that the extern path below replaces prost's default
        // mapping of the well-known types instead of clashing with it.
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .extern_path(".google.protobuf", "::pbjson_types")
        .preserve_proto_field_names()
        .emit_fields()
        .ignore_unknown_fields()
        .build(&[".aserto", ".lictor"])?;

    // Cerbos's REST API speaks protojson's defaults: lowerCamelCase names, unpopulated fields left
    // out, and an unknown field refused.
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .extern_path(".google.protobuf", "::pbjson_types")
        .build(&[".cerbos"])?;

    Ok(())
}
