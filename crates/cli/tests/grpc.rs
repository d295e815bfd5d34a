//! The gRPC services of `lictor run`, called with clients generated from the Topaz-compatible protos,
//! over plaintext and TLS on the same port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use lictor_proto::authorizer::v2 as authorizer;
use lictor_proto::authorizer::v2::api;
use lictor_proto::authorizer::v2::authorizer_client::AuthorizerClient;
use lictor_proto::directory::common::v3 as types;
use lictor_proto::directory::exporter::v3 as exporter;
use lictor_proto::directory::importer::v3 as importer;
use lictor_proto::directory::model::v3 as model;
use lictor_proto::directory::reader::v3 as reader;
use lictor_proto::directory::writer::v3 as writer;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Request};

async fn plaintext(server: &Server, port: &str) -> Channel {
    Channel::from_shared(format!("http://{}", server.ports[port]))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn tls(server: &Server, port: &str) -> Channel {
    let ca = std::fs::read(server.ca.as_ref().expect("a CA is announced")).unwrap();
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    Channel::from_shared(format!("https://{}", server.ports[port]))
        .unwrap()
        .tls_config(config)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn check(
    subject: &str,
    relation: &str,
    object_type: &str,
    object_id: &str,
) -> reader::CheckRequest {
    reader::CheckRequest {
        object_type: object_type.into(),
        object_id: object_id.into(),
        relation: relation.into(),
        subject_type: "user".into(),
        subject_id: subject.into(),
        trace: false,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn directory_reader_and_writer_over_plaintext_and_tls() {
    let server = Server::start("", true);
    runtime().block_on(async {
        let rick = check("rick@the-citadel.com", "member", "group", "admin");
        let morty = check("morty@the-citadel.com", "member", "group", "admin");
        for channel in [
            plaintext(&server, "directory-grpc").await,
            tls(&server, "directory-grpc").await,
            tls(&server, "authorizer-grpc").await,
        ] {
            let mut client = reader::reader_client::ReaderClient::new(channel);
            assert!(client.check(rick.clone()).await.unwrap().into_inner().check);
            assert!(
                !client
                    .check(morty.clone())
                    .await
                    .unwrap()
                    .into_inner()
                    .check
            );
        }

        let channel = plaintext(&server, "directory-grpc").await;
        let mut read = reader::reader_client::ReaderClient::new(channel.clone());
        let mut write = writer::writer_client::WriterClient::new(channel);

        // Write an object and a relation, then read them back every way Topaz offers.
        let mut properties = lictor_proto::wkt::Struct::default();
        properties.fields.insert(
            "title".into(),
            lictor_proto::wkt::Value::from("buy milk".to_string()),
        );
        let stored = write
            .set_object(writer::SetObjectRequest {
                object: Some(types::Object {
                    r#type: "resource".into(),
                    id: "todo-1".into(),
                    display_name: "Todo 1".into(),
                    properties: Some(properties),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        assert!(!stored.etag.is_empty());
        write
            .set_relation(writer::SetRelationRequest {
                relation: Some(types::Relation {
                    object_type: "resource".into(),
                    object_id: "todo-1".into(),
                    relation: "owner".into(),
                    subject_type: "user".into(),
                    subject_id: "morty@the-citadel.com".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let object = read
            .get_object(reader::GetObjectRequest {
                object_type: "resource".into(),
                object_id: "todo-1".into(),
                with_relations: true,
                page: None,
            })
            .await
            .unwrap()
            .into_inner();
        let result = object.result.unwrap();
        assert_eq!(result.display_name, "Todo 1");
        assert_eq!(
            result.properties.unwrap().fields["title"],
            lictor_proto::wkt::Value::from("buy milk".to_string())
        );
        assert_eq!(object.relations.len(), 1);
        assert!(
            read.check(check(
                "morty@the-citadel.com",
                "can_delete",
                "resource",
                "todo-1"
            ))
            .await
            .unwrap()
            .into_inner()
            .check
        );
        let graph = read
            .get_graph(reader::GetGraphRequest {
                object_type: "resource".into(),
                relation: "can_write".into(),
                subject_type: "user".into(),
                subject_id: "morty@the-citadel.com".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            graph.results,
            vec![types::ObjectIdentifier {
                object_type: "resource".into(),
                object_id: "todo-1".into()
            }]
        );

        // A batch: defaults fill empty fields; a bad item is answered in place.
        let checks = read
            .checks(reader::ChecksRequest {
                default: Some(reader::CheckRequest {
                    object_type: "group".into(),
                    relation: "member".into(),
                    subject_type: "user".into(),
                    ..Default::default()
                }),
                checks: vec![
                    reader::CheckRequest {
                        object_id: "admin".into(),
                        subject_id: "rick@the-citadel.com".into(),
                        ..Default::default()
                    },
                    reader::CheckRequest {
                        object_id: "editor".into(),
                        subject_id: "rick@the-citadel.com".into(),
                        ..Default::default()
                    },
                    reader::CheckRequest {
                        object_id: "admin".into(),
                        relation: "no_such_relation".into(),
                        subject_id: "rick@the-citadel.com".into(),
                        ..Default::default()
                    },
                ],
            })
            .await
            .unwrap()
            .into_inner()
            .checks;
        assert_eq!(
            checks.iter().map(|c| c.check).collect::<Vec<_>>(),
            [true, true, false]
        );
        let error = checks[2].context.as_ref().unwrap().fields["error"].clone();
        assert!(
            format!("{error:?}").contains("no_such_relation"),
            "{error:?}"
        );

        // Bad requests name the field; a rejected write changes nothing.
        let status = read
            .check(check("rick@the-citadel.com", "", "group", "admin"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("relation"),
            "{}",
            status.message()
        );
        let status = write
            .set_relation(writer::SetRelationRequest {
                relation: Some(types::Relation {
                    object_type: "resource".into(),
                    object_id: "todo-1".into(),
                    relation: "owner".into(),
                    subject_type: "group".into(),
                    subject_id: "admin".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let relations = read
            .get_relations(reader::GetRelationsRequest {
                object_type: "resource".into(),
                object_id: "todo-1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        assert_eq!(relations.len(), 1);

        // Deletes, then the object is gone.
        write
            .delete_object(writer::DeleteObjectRequest {
                object_type: "resource".into(),
                object_id: "todo-1".into(),
                with_relations: true,
            })
            .await
            .unwrap();
        let status = read
            .get_object(reader::GetObjectRequest {
                object_type: "resource".into(),
                object_id: "todo-1".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    });
}

#[test]
fn manifest_import_and_export_stream() {
    let server = Server::start("", true);
    runtime().block_on(async {
        let channel = plaintext(&server, "directory-grpc").await;
        let mut models = model::model_client::ModelClient::new(channel.clone());
        let mut stream = models
            .get_manifest(model::GetManifestRequest { empty: None })
            .await
            .unwrap()
            .into_inner();
        let (mut etag, mut body) = (String::new(), Vec::new());
        while let Some(message) = stream.message().await.unwrap() {
            match message.msg.unwrap() {
                model::get_manifest_response::Msg::Metadata(m) => etag = m.etag,
                model::get_manifest_response::Msg::Body(b) => body.extend_from_slice(&b.data),
                model::get_manifest_response::Msg::Model(_) => panic!("no model was asked for"),
            }
        }
        let manifest = String::from_utf8(body).unwrap();
        assert!(!etag.is_empty());
        assert!(manifest.contains("resource-creator"), "{manifest}");

        // Setting the same manifest back (in two chunks) keeps everything.
        let (first, second) = manifest.as_bytes().split_at(manifest.len() / 2);
        let chunks = [first.to_vec(), second.to_vec()].map(|data| model::SetManifestRequest {
            msg: Some(model::set_manifest_request::Msg::Body(model::Body { data })),
        });
        models
            .set_manifest(tokio_stream::iter(chunks))
            .await
            .unwrap();
        // A manifest that strands stored relations is refused, naming what would break.
        let narrow = model::SetManifestRequest {
            msg: Some(model::set_manifest_request::Msg::Body(model::Body {
                data: b"model:\n  version: 3\ntypes:\n  user: {}\n".to_vec(),
            })),
        };
        let status = models
            .set_manifest(tokio_stream::iter([narrow]))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

        // Import: every message applied on its own, failures reported in the stream.
        let mut importer = importer::importer_client::ImporterClient::new(channel.clone());
        let set = importer::Opcode::Set as i32;
        let requests = vec![
            importer::ImportRequest {
                op_code: set,
                msg: Some(importer::import_request::Msg::Object(types::Object {
                    r#type: "resource".into(),
                    id: "todo-9".into(),
                    ..Default::default()
                })),
            },
            importer::ImportRequest {
                op_code: set,
                msg: Some(importer::import_request::Msg::Relation(types::Relation {
                    object_type: "resource".into(),
                    object_id: "todo-9".into(),
                    relation: "owner".into(),
                    subject_type: "user".into(),
                    subject_id: "beth@the-smiths.com".into(),
                    ..Default::default()
                })),
            },
            importer::ImportRequest {
                op_code: set,
                msg: Some(importer::import_request::Msg::Relation(types::Relation {
                    object_type: "resource".into(),
                    object_id: "todo-9".into(),
                    relation: "no_such_relation".into(),
                    subject_type: "user".into(),
                    subject_id: "beth@the-smiths.com".into(),
                    ..Default::default()
                })),
            },
        ];
        let response = importer.import(tokio_stream::iter(requests)).await.unwrap();
        // Its headers leave before the import commits: their revision does not hold it yet.
        let before: u64 = response
            .metadata()
            .get("x-lictor-revision")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut responses = response.into_inner();
        let (mut errors, mut last) = (Vec::new(), None);
        while let Some(response) = responses.message().await.unwrap() {
            match response.msg {
                Some(importer::import_response::Msg::Status(status)) => errors.push(status.msg),
                Some(importer::import_response::Msg::Counter(_)) => {}
                None => last = Some(response),
            }
        }
        // The stream commits after its answers: its trailers carry the revision that holds it.
        let trailers = responses.trailers().await.unwrap().expect("trailers");
        let token: u64 = trailers
            .get("x-lictor-revision")
            .expect("x-lictor-revision in the trailers")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(token, before + 1, "the import is one revision");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("no_such_relation"), "{errors:?}");
        let last = last.expect("a final counter message");
        assert_eq!(last.object.unwrap().set, 1);
        let relations = last.relation.unwrap();
        assert_eq!((relations.recv, relations.set, relations.error), (2, 1, 1));

        // Export sees the import.
        let mut exporter = exporter::exporter_client::ExporterClient::new(channel.clone());
        let mut stream = exporter
            .export(exporter::ExportRequest {
                options: 24,
                start_from: None,
            })
            .await
            .unwrap()
            .into_inner();
        let (mut objects, mut relations) = (0, 0);
        let mut found = false;
        while let Some(message) = stream.message().await.unwrap() {
            match message.msg.unwrap() {
                exporter::export_response::Msg::Object(_) => objects += 1,
                exporter::export_response::Msg::Relation(r) => {
                    relations += 1;
                    found |= r.object_id == "todo-9" && r.subject_id == "beth@the-smiths.com";
                }
                exporter::export_response::Msg::Stats(_) => panic!("stats were not asked for"),
            }
        }
        assert!(found);
        assert!(objects > 10 && relations > 10, "{objects} {relations}");
    });
}

fn identity(identity: &str) -> Option<api::IdentityContext> {
    Some(api::IdentityContext {
        identity: identity.into(),
        r#type: api::IdentityType::Sub as i32,
    })
}

fn resource(id: &str) -> Option<lictor_proto::wkt::Struct> {
    let mut resource = lictor_proto::wkt::Struct::default();
    resource.fields.insert(
        "object_id".into(),
        lictor_proto::wkt::Value::from(id.to_string()),
    );
    Some(resource)
}

async fn is(
    client: &mut AuthorizerClient<Channel>,
    who: &str,
    path: &str,
    object_id: &str,
) -> bool {
    let response = client
        .is(authorizer::IsRequest {
            policy_context: Some(api::PolicyContext {
                path: path.into(),
                decisions: vec!["allowed".into()],
            }),
            identity_context: identity(who),
            resource_context: resource(object_id),
            policy_instance: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.decisions.len(), 1);
    assert_eq!(response.decisions[0].decision, "allowed");
    response.decisions[0].is
}

#[test]
fn authorizer_answers_the_demo_todo_policies() {
    let server = Server::start("", true);
    runtime().block_on(async {
        let channel = tls(&server, "authorizer-grpc").await;
        let mut client = AuthorizerClient::new(channel.clone());
        let mut write = writer::writer_client::WriterClient::new(channel);
        write
            .set_object(writer::SetObjectRequest {
                object: Some(types::Object {
                    r#type: "resource".into(),
                    id: "todo-1".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        write
            .set_relation(writer::SetRelationRequest {
                relation: Some(types::Relation {
                    object_type: "resource".into(),
                    object_id: "todo-1".into(),
                    relation: "owner".into(),
                    subject_type: "user".into(),
                    subject_id: "morty@the-citadel.com".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();

        let rick = "rick@the-citadel.com";
        let morty = "morty@the-citadel.com";
        let beth = "beth@the-smiths.com";
        assert!(is(&mut client, beth, "todoApp.GET.todos", "").await);
        assert!(is(&mut client, rick, "todoApp.POST.todos", "").await);
        assert!(!is(&mut client, beth, "todoApp.POST.todos", "").await);
        assert!(is(&mut client, morty, "todoApp.PUT.todos.__id", "todo-1").await);
        assert!(!is(&mut client, rick, "todoApp.PUT.todos.__id", "todo-1").await);
        assert!(is(&mut client, morty, "todoApp.DELETE.todos.__id", "todo-1").await);
        assert!(!is(&mut client, beth, "todoApp.DELETE.todos.__id", "todo-1").await);

        // An unknown identity is refused, as Topaz refuses it.
        let status = client
            .is(authorizer::IsRequest {
                policy_context: Some(api::PolicyContext {
                    path: "todoApp.GET.todos".into(),
                    decisions: vec!["allowed".into()],
                }),
                identity_context: identity("nobody@nowhere"),
                resource_context: None,
                policy_instance: None,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        use tonic_types::StatusExt as _;
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "IDENTITY_NOT_FOUND");

        // The decision tree holds every todo route's decisions for the caller.
        let tree = client
            .decision_tree(authorizer::DecisionTreeRequest {
                policy_context: Some(api::PolicyContext {
                    path: "todoApp".into(),
                    decisions: vec!["allowed".into(), "visible".into()],
                }),
                identity_context: identity(beth),
                options: None,
                resource_context: None,
                policy_instance: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(tree.path_root, "todoApp");
        let tree = serde_json::to_value(tree.path.unwrap()).unwrap();
        assert_eq!(tree["todoApp.GET.todos"]["allowed"], true, "{tree}");
        assert_eq!(tree["todoApp.POST.todos"]["allowed"], false, "{tree}");
        assert_eq!(tree["todoApp.POST.todos"]["visible"], true, "{tree}");
        assert_eq!(
            tree["todoApp.DELETE.todos.__id"]["allowed"], false,
            "{tree}"
        );

        // Query evaluates ad-hoc Rego with the same input.
        let query = client
            .query(authorizer::QueryRequest {
                query: "x = input.user.id".into(),
                identity_context: identity(rick),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let response = serde_json::to_value(query.response.unwrap()).unwrap();
        assert!(response.to_string().contains(rick), "{response}");

        let policies = client
            .list_policies(authorizer::ListPoliciesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .result;
        assert!(policies.len() >= 5, "{policies:?}");
        let info = client
            .info(authorizer::InfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(!info.version.is_empty());
        // Compile: the list rule reads no unknown, so a signed-in user gets one empty query (always
        // true); the update rule passes the unknown resource to a function, which is refused by name.
        let compile = |query: &str| authorizer::CompileRequest {
            query: query.into(),
            unknowns: vec!["input.resource".into()],
            identity_context: identity(rick),
            ..Default::default()
        };
        let result = client
            .compile(compile("data.todoApp.GET.todos.allowed"))
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            serde_json::json!({"queries": [[]]})
        );
        let status = client
            .compile(compile("data.todoApp.PUT.todos.__id.allowed"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("user-defined function"),
            "{}",
            status.message()
        );
        let status = client
            .compile(authorizer::CompileRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "query is required");
    });
}

/// A request carrying an API key and a tenant, as Aserto's clients send them.
fn with_key<T>(key: &str, tenant: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("basic {key}").parse().unwrap());
    request
        .metadata_mut()
        .insert("aserto-tenant-id", tenant.parse().unwrap());
    request
}

#[test]
fn health_reflection_and_api_keys_over_grpc() {
    let config = "api_keys:
  - key: tenant-a-key-0123456789
    tenant: a
    scopes: [read, write]
  - key: tenant-b-reader-key-0123456789
    tenant: b
    scopes: [read]
tenants:
  - id: a
  - id: b
";
    let server = Server::start(config, false);
    runtime().block_on(async {
        let channel = plaintext(&server, "directory-grpc").await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        for service in ["", "aserto.directory.reader.v3.Reader"] {
            let status = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            assert_eq!(
                status,
                tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            );
        }

        // The health port answers gRPC health too, as Topaz's does.
        let mut probe =
            tonic_health::pb::health_client::HealthClient::new(plaintext(&server, "health").await);
        let status = probe
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );

        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        let mut reflection = ServerReflectionClient::new(channel.clone());
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let answer = answers.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
            panic!("not a service list: {answer:?}");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for wanted in [
            "aserto.directory.reader.v3.Reader",
            "aserto.directory.writer.v3.Writer",
            "aserto.authorizer.v2.Authorizer",
        ] {
            assert!(names.iter().any(|n| n == wanted), "{names:?}");
        }

        let mut read = reader::reader_client::ReaderClient::new(channel.clone());
        let mut write = writer::writer_client::WriterClient::new(channel);
        let manifest = model::SetManifestRequest {
            msg: Some(model::set_manifest_request::Msg::Body(model::Body {
                data: b"model:\n  version: 3\ntypes:\n  user: {}\n".to_vec(),
            })),
        };
        let status =
            model::model_client::ModelClient::new(plaintext(&server, "directory-grpc").await)
                .set_manifest(with_key(
                    "tenant-a-key-0123456789",
                    "a",
                    tokio_stream::iter([manifest]),
                ))
                .await
                .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "admin scope is needed"
        );

        let objects = || reader::GetObjectsRequest::default();
        // No key: refused.
        let status = read.get_objects(objects()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        // A key of tenant A cannot read tenant B.
        let status = read
            .get_objects(with_key("tenant-a-key-0123456789", "b", objects()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        read.get_objects(with_key("tenant-a-key-0123456789", "a", objects()))
            .await
            .unwrap();
        // A read-only key cannot write.
        let object = writer::SetObjectRequest {
            object: Some(types::Object {
                r#type: "user".into(),
                id: "x".into(),
                ..Default::default()
            }),
        };
        let status = write
            .set_object(with_key("tenant-b-reader-key-0123456789", "b", object))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    });
}
