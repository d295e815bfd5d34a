//! JSON shape (protojson as Topaz's gateway emits it) and binary wire checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use lictor_proto::authorizer::v2::{self as authz, api};
use lictor_proto::directory::{common::v3 as common, exporter::v3 as exporter};
use lictor_proto::directory::{importer::v3 as importer, model::v3 as model, reader::v3 as reader};
use lictor_proto::wkt;
use prost::Message;
use serde_json::json;

fn struct_of(v: serde_json::Value) -> wkt::Struct {
    serde_json::from_value(v).unwrap()
}

#[test]
fn check_request_uses_proto_names_and_emits_defaults() {
    let req = reader::CheckRequest {
        object_type: "doc".into(),
        object_id: "d1".into(),
        relation: "can_read".into(),
        subject_type: "user".into(),
        subject_id: "u1".into(),
        trace: false,
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v,
        json!({
            "object_type": "doc",
            "object_id": "d1",
            "relation": "can_read",
            "subject_type": "user",
            "subject_id": "u1",
            "trace": false,
        })
    );
    let back: reader::CheckRequest = serde_json::from_value(v).unwrap();
    assert_eq!(back, req);
}

#[test]
fn parsing_accepts_camel_case_and_ignores_unknown_fields() {
    let req: reader::CheckRequest = serde_json::from_value(json!({
        "objectType": "doc",
        "object_id": "d1",
        "no_such_field": 1,
    }))
    .unwrap();
    assert_eq!(req.object_type, "doc");
    assert_eq!(req.object_id, "d1");
    assert_eq!(req.relation, "");
}

#[test]
fn enums_serialize_as_names_and_parse_names_or_numbers() {
    let ctx = api::IdentityContext {
        identity: "alice".into(),
        r#type: api::IdentityType::Sub as i32,
    };
    let v = serde_json::to_value(&ctx).unwrap();
    assert_eq!(v, json!({"identity": "alice", "type": "IDENTITY_TYPE_SUB"}));

    let by_name: api::IdentityContext =
        serde_json::from_value(json!({"type": "IDENTITY_TYPE_JWT"})).unwrap();
    assert_eq!(by_name.r#type(), api::IdentityType::Jwt);
    let by_number: api::IdentityContext = serde_json::from_value(json!({"type": 4})).unwrap();
    assert_eq!(by_number.r#type(), api::IdentityType::Manual);
}

#[test]
fn is_request_round_trips_with_struct_as_plain_object() {
    let req = authz::IsRequest {
        policy_context: Some(api::PolicyContext {
            path: "app.GET.todos".into(),
            decisions: vec!["allowed".into()],
        }),
        identity_context: Some(api::IdentityContext {
            identity: "alice".into(),
            r#type: api::IdentityType::Sub as i32,
        }),
        resource_context: Some(struct_of(
            json!({"id": "t1", "n": 2.5, "tags": ["a"], "x": null}),
        )),
        policy_instance: None,
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v,
        json!({
            "policy_context": {"path": "app.GET.todos", "decisions": ["allowed"]},
            "identity_context": {"identity": "alice", "type": "IDENTITY_TYPE_SUB"},
            "resource_context": {"id": "t1", "n": 2.5, "tags": ["a"], "x": null},
        })
    );
    let back: authz::IsRequest = serde_json::from_value(v).unwrap();
    assert_eq!(back, req);
}

#[test]
fn object_timestamps_are_rfc3339_strings() {
    let obj = common::Object {
        r#type: "user".into(),
        id: "u1".into(),
        display_name: String::new(),
        properties: Some(struct_of(json!({"email": "u1@example.com"}))),
        created_at: Some(wkt::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        updated_at: None,
        etag: "42".into(),
    };
    let v = serde_json::to_value(&obj).unwrap();
    assert_eq!(v["type"], "user");
    assert_eq!(v["display_name"], "");
    assert_eq!(v["properties"], json!({"email": "u1@example.com"}));
    assert_eq!(v["created_at"], "2023-11-14T22:13:20+00:00");
    let back: common::Object = serde_json::from_value(v).unwrap();
    assert_eq!(back, obj);

    let parsed: common::Object =
        serde_json::from_value(json!({"created_at": "2023-11-14T22:13:20Z"})).unwrap();
    assert_eq!(parsed.created_at.unwrap().seconds, 1_700_000_000);
}

#[test]
fn oneofs_bytes_and_64_bit_integers_follow_protojson() {
    let chunk = model::GetManifestResponse {
        msg: Some(model::get_manifest_response::Msg::Body(model::Body {
            data: b"model:\n".to_vec(),
        })),
    };
    let v = serde_json::to_value(&chunk).unwrap();
    assert_eq!(v, json!({"body": {"data": "bW9kZWw6Cg=="}}));
    assert_eq!(
        serde_json::from_value::<model::GetManifestResponse>(v).unwrap(),
        chunk
    );

    let counter = importer::ImportCounter {
        recv: 3,
        set: 2,
        delete: 1,
        error: 0,
        r#type: "object".into(),
    };
    let v = serde_json::to_value(&counter).unwrap();
    assert_eq!(
        v,
        json!({"recv": "3", "set": "2", "delete": "1", "error": "0", "type": "object"})
    );
    assert_eq!(
        serde_json::from_value::<importer::ImportCounter>(v).unwrap(),
        counter
    );
}

#[test]
fn check_request_field_numbers_on_the_wire() {
    // trace is field 7 (6 is unused): tag = 7 << 3 | varint = 0x38.
    let only_trace = reader::CheckRequest {
        trace: true,
        ..Default::default()
    };
    assert_eq!(only_trace.encode_to_vec(), vec![0x38, 0x01]);

    // subject_id is field 5: tag = 5 << 3 | length-delimited = 0x2a.
    let only_subject = reader::CheckRequest {
        subject_id: "u".into(),
        ..Default::default()
    };
    assert_eq!(only_subject.encode_to_vec(), vec![0x2a, 0x01, b'u']);

    let decoded = reader::CheckRequest::decode(&[0x0a, 0x01, b'd', 0x38, 0x01][..]).unwrap();
    assert_eq!(decoded.object_type, "d");
    assert!(decoded.trace);
}

#[test]
fn other_field_numbers_on_the_wire() {
    // Object.etag is field 23: tag = 23 << 3 | 2 = 186 = varint [0xba, 0x01].
    let obj = common::Object {
        etag: "e".into(),
        ..Default::default()
    };
    assert_eq!(obj.encode_to_vec(), vec![0xba, 0x01, 0x01, b'e']);

    // GetGraphRequest.object_type is field 3 (1 and 2 are reserved).
    let graph = reader::GetGraphRequest {
        object_type: "t".into(),
        ..Default::default()
    };
    assert_eq!(graph.encode_to_vec(), vec![0x1a, 0x01, b't']);

    // ImportRequest: op_code is field 1, object is field 5.
    let import = importer::ImportRequest {
        op_code: importer::Opcode::Delete as i32,
        msg: Some(importer::import_request::Msg::Object(
            common::Object::default(),
        )),
    };
    assert_eq!(import.encode_to_vec(), vec![0x08, 0x02, 0x2a, 0x00]);

    // ExportResponse.stats is field 8.
    let export = exporter::ExportResponse {
        msg: Some(exporter::export_response::Msg::Stats(wkt::Struct::default())),
    };
    assert_eq!(export.encode_to_vec(), vec![0x42, 0x00]);

    // Model Body.data is field 2, inside SetManifestRequest.body (field 1).
    let set = model::SetManifestRequest {
        msg: Some(model::set_manifest_request::Msg::Body(model::Body {
            data: vec![0xff],
        })),
    };
    assert_eq!(set.encode_to_vec(), vec![0x0a, 0x03, 0x12, 0x01, 0xff]);

    // IsRequest.resource_context is field 3.
    let is = authz::IsRequest {
        resource_context: Some(wkt::Struct::default()),
        ..Default::default()
    };
    assert_eq!(is.encode_to_vec(), vec![0x1a, 0x00]);
}

#[test]
fn exporter_option_flags_combine() {
    let data = exporter::Option::DataObjects as u32 | exporter::Option::DataRelations as u32;
    assert_eq!(data, exporter::Option::Data as u32);
    assert_eq!(exporter::Option::Stats as u32, 64);
}

#[test]
fn descriptor_set_lists_every_service() {
    let fds = wkt::FileDescriptorSet::decode(lictor_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut services: Vec<String> = fds
        .file
        .iter()
        .flat_map(|f| {
            let pkg = f.package().to_owned();
            f.service.iter().map(move |s| format!("{pkg}.{}", s.name()))
        })
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "aserto.authorizer.v2.Authorizer",
            "aserto.directory.exporter.v3.Exporter",
            "aserto.directory.importer.v3.Importer",
            "aserto.directory.model.v3.Model",
            "aserto.directory.reader.v3.Reader",
            "aserto.directory.writer.v3.Writer",
            "cerbos.svc.v1.CerbosService",
            "lictor.decisions.v1.DecisionLogs",
            "lictor.replication.v1.Replication",
        ]
    );
    assert!(fds
        .file
        .iter()
        .any(|f| f.name() == "google/protobuf/struct.proto"));
}
