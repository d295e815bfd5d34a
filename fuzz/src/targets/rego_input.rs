//! The Rego input built from a decision request: identity (none, subject, JWT, manual), policy path,
//! decisions and resource context, evaluated by Is and DecisionTree on the demo policies over the demo
//! directory. Answers must name the decisions asked, in order; and `rebac.check` must agree with the
//! directory's own check for a resolved demo user.

use crate::{fixture, sign_hs256, SECRET};
use arbitrary::Arbitrary;
use lictor_directory::CheckRequest;
use lictor_server::service::authorizer::{
    self as service, DecisionRequest, IdentityContext, IdentityType,
};
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The demo's users; each is also the id of an identity naming it.
const USERS: [&str; 5] = [
    "rick@the-citadel.com",
    "morty@the-citadel.com",
    "beth@the-smiths.com",
    "summer@the-smiths.com",
    "jerry@the-smiths.com",
];

/// Names the demo manifest, data and policies use, so that inputs reach past the first lookup.
const WORDS: [&str; 24] = [
    "user",
    "group",
    "identity",
    "resource-creator",
    "resource",
    "admin",
    "editor",
    "viewer",
    "evil_genius",
    "resource-creators",
    "member",
    "manager",
    "identifier",
    "in_management_chain",
    "can_create_resource",
    "owner",
    "can_read",
    "can_write",
    "rick@the-citadel.com",
    "morty@the-citadel.com",
    "beth@the-smiths.com",
    "object_type",
    "object_id",
    "relation",
];

const PATHS: [&str; 8] = [
    "rebac.check",
    "todoApp.GET.todos",
    "todoApp.POST.todos",
    "todoApp.PUT.todos.__id",
    "todoApp.DELETE.todos.__id",
    "todoApp",
    "todoApp.common",
    "rebac",
];

const DECISIONS: [&str; 3] = ["allowed", "visible", "enabled"];

#[derive(Arbitrary, Debug)]
enum Word {
    Known(u8),
    Any(String),
}

impl Word {
    fn text(&self, known: &[&str]) -> String {
        match self {
            Word::Known(i) => known[usize::from(*i) % known.len()].to_string(),
            Word::Any(text) => text.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Word),
    Array(Vec<Json>),
    Object(Vec<(Word, Json)>),
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(i) => json!(i),
            Json::Float(f) => json!(f),
            Json::Str(word) => json!(word.text(&WORDS)),
            Json::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.text(&WORDS), value.value()))
                    .collect(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Identity {
    None,
    Sub(Word),
    Manual(String),
    /// A token of the trusted issuer for the subject, signed with its key or not, expired or not.
    Jwt {
        subject: Word,
        signed: bool,
        expired: bool,
    },
    RawJwt(String),
}

#[derive(Arbitrary, Debug)]
enum Resource {
    /// `rebac.check`'s shape.
    Check {
        object_type: Word,
        object_id: Word,
        relation: Word,
        subject_type: Option<Word>,
    },
    Any(Json),
}

#[derive(Arbitrary, Debug)]
struct Input {
    identity: Identity,
    path: Word,
    decisions: Vec<Word>,
    resource: Resource,
    slash_separator: bool,
}

fn token(subject: &str, signed: bool, expired: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let exp = if expired { now - 3600 } else { now + 3600 };
    let claims = json!({"iss": crate::ISSUER, "sub": subject, "exp": exp});
    let secret: &[u8] = if signed {
        SECRET.as_bytes()
    } else {
        b"not-the-issuer-secret"
    };
    sign_hs256(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        claims.to_string().as_bytes(),
        secret,
    )
}

/// Runs the target on one input, read as libFuzzer's typed targets read it.
pub fn run(data: &[u8]) {
    super::typed(data, check);
}

fn check(input: Input) {
    let (kind, identity, user) = match &input.identity {
        Identity::None => (IdentityType::None, String::new(), None),
        Identity::Sub(word) => {
            let subject = word.text(&USERS);
            let user = USERS.contains(&subject.as_str()).then(|| subject.clone());
            (IdentityType::Sub, subject, user)
        }
        Identity::Manual(value) => (IdentityType::Manual, value.clone(), None),
        Identity::Jwt {
            subject,
            signed,
            expired,
        } => {
            let subject = subject.text(&USERS);
            let user = (USERS.contains(&subject.as_str()) && *signed && !*expired)
                .then(|| subject.clone());
            (IdentityType::Jwt, token(&subject, *signed, *expired), user)
        }
        Identity::RawJwt(token) => (IdentityType::Jwt, token.clone(), None),
    };
    let resource = match &input.resource {
        Resource::Check {
            object_type,
            object_id,
            relation,
            subject_type,
        } => {
            let mut fields = Map::new();
            fields.insert("object_type".into(), json!(object_type.text(&WORDS)));
            fields.insert("object_id".into(), json!(object_id.text(&WORDS)));
            fields.insert("relation".into(), json!(relation.text(&WORDS)));
            if let Some(subject_type) = subject_type {
                fields.insert("subject_type".into(), json!(subject_type.text(&WORDS)));
            }
            Value::Object(fields)
        }
        Resource::Any(json) => json.value(),
    };
    let request = DecisionRequest {
        identity: IdentityContext { kind, identity },
        path: input.path.text(&PATHS),
        decisions: input.decisions.iter().map(|d| d.text(&DECISIONS)).collect(),
        resource,
    };
    let fixture = fixture();
    let access = fixture.access();
    let answer = fixture
        .runtime
        .block_on(service::is(&fixture.service.state, &access, &request));
    if let Ok(decisions) = &answer {
        let names: Vec<_> = decisions.iter().map(|(name, _)| name).collect();
        assert_eq!(names, request.decisions.iter().collect::<Vec<_>>());
    }
    if request.path.is_empty() || request.decisions.is_empty() {
        assert!(answer.is_err(), "Is without a path or decisions answered");
    }

    // rebac.check allows exactly what the directory's check allows the resolved user.
    if let (
        Some(user),
        "rebac.check",
        Resource::Check {
            subject_type: None, ..
        },
    ) = (&user, request.path.as_str(), &input.resource)
    {
        let field = |name: &str| {
            request.resource[name]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let (object_type, object_id, relation) =
            (field("object_type"), field("object_id"), field("relation"));
        let directory = access.tenant.store.snapshot();
        let check = directory.check(&CheckRequest {
            object_type: &object_type,
            object_id: &object_id,
            relation: &relation,
            subject_type: "user",
            subject_id: user,
            subject_relation: "",
        });
        // Only decisions the policies know are comparable; others are refused by name.
        let known = !input.decisions.is_empty()
            && input.decisions.iter().all(|d| matches!(d, Word::Known(_)));
        if let (Ok(expected), true) = (check, known) {
            let decisions = answer.as_ref().unwrap_or_else(|e| {
                panic!("rebac.check failed where check answers: {}", e.message)
            });
            for (name, allowed) in decisions {
                if name == "allowed" {
                    assert_eq!(
                        *allowed, expected,
                        "rebac.check for {user} on {}",
                        request.resource
                    );
                }
            }
        }
    }

    let separator = if input.slash_separator {
        lictor_policy::PathSeparator::Slash
    } else {
        lictor_policy::PathSeparator::Dot
    };
    let _ = fixture.runtime.block_on(service::decision_tree(
        &fixture.service.state,
        &access,
        &request,
        separator,
    ));
}
