//! `lictor load json`: users, identities and groups kept in step with an identity provider's export,
//! run after run, without touching what the application wrote.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MANIFEST: &str = "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user
  doc:
    relations:
      owner: user
";

fn lictor(data: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = lictor(data, args);
    assert!(success, "lictor {args:?}: {text}");
    text
}

/// An export as an identity provider's loader writes it: users with an identity each, and groups.
fn export(users: &[(&str, &str)], groups: &[(&str, &[&str])]) -> Value {
    let mut objects = Vec::new();
    let mut relations = Vec::new();
    for (id, name) in users {
        objects.push(json!({"type": "user", "id": id, "display_name": name,
            "properties": {"email": format!("{id}@example.com")}}));
        objects.push(json!({"type": "identity", "id": format!("{id}@example.com")}));
        relations.push(
            json!({"object_type": "user", "object_id": id, "relation": "identifier",
            "subject_type": "identity", "subject_id": format!("{id}@example.com")}),
        );
    }
    for (group, members) in groups {
        objects.push(json!({"type": "group", "id": group}));
        for member in *members {
            relations.push(
                json!({"object_type": "group", "object_id": group, "relation": "member",
                "subject_type": "user", "subject_id": member}),
            );
        }
    }
    json!({"objects": objects, "relations": relations})
}

fn exported(data: &Path) -> Vec<String> {
    ok(data, &["export"])
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            let record = value
                .get("object")
                .or(value.get("relation"))
                .unwrap_or(&value);
            match record.get("relation") {
                Some(relation) => format!(
                    "{}:{}#{}@{}:{}",
                    record["object_type"].as_str().unwrap(),
                    record["object_id"].as_str().unwrap(),
                    relation.as_str().unwrap(),
                    record["subject_type"].as_str().unwrap(),
                    record["subject_id"].as_str().unwrap()
                ),
                None => format!(
                    "{}:{} {}",
                    record["type"].as_str().unwrap(),
                    record["id"].as_str().unwrap(),
                    record["display_name"].as_str().unwrap_or("")
                ),
            }
        })
        .collect()
}

#[test]
fn a_source_is_kept_in_step_and_application_records_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    ok(&data, &["model", "set", manifest.to_str().unwrap()]);
    let file = dir.path().join("export.json");
    let write_export = |value: &Value| std::fs::write(&file, value.to_string()).unwrap();
    let load = |extra: &[&str]| {
        let mut args = vec!["load", "json", file.to_str().unwrap(), "--source", "okta"];
        args.extend_from_slice(extra);
        ok(&data, &args)
    };

    // First load: two users in one group.
    write_export(&export(
        &[("rick", "Rick"), ("morty", "Morty")],
        &[("admins", &["rick", "morty"])],
    ));
    let report = load(&[]);
    assert!(
        report
            .contains("objects: 5 created, 0 updated, 0 removed; relations: 4 created, 0 removed"),
        "{report}"
    );
    // The application writes beside it, naming synced users.
    ok(&data, &["object", "set", "doc:plans"]);
    ok(
        &data,
        &["relation", "set", "doc:plans", "owner", "user:morty"],
    );
    ok(
        &data,
        &["relation", "set", "doc:plans", "owner", "user:rick"],
    );

    // The source changes: morty leaves, rick is renamed and leaves the group, beth arrives.
    write_export(&export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    ));
    let before = exported(&data);
    let dry = load(&["--dry-run"]);
    assert!(dry.contains("+ object user:beth"), "{dry}");
    assert!(dry.contains("~ object user:rick"), "{dry}");
    assert!(dry.contains("- object user:morty"), "{dry}");
    assert!(dry.contains("- object identity:morty@example.com"), "{dry}");
    assert!(
        dry.contains("- relation group:admins#member@user:rick"),
        "{dry}"
    );
    assert!(
        !dry.contains("doc:plans"),
        "application records are not the source's: {dry}"
    );
    assert!(dry.contains("would change objects: 2 created, 1 updated, 2 removed; relations: 2 created, 3 removed"), "{dry}");
    assert_eq!(exported(&data), before, "a dry run changes nothing");

    let report = load(&[]);
    assert!(
        report
            .contains("objects: 2 created, 1 updated, 2 removed; relations: 2 created, 3 removed"),
        "{report}"
    );
    let now = exported(&data);
    for present in [
        "user:rick Rick Sanchez",
        "user:beth Beth",
        "group:admins#member@user:beth",
        "doc:plans#owner@user:rick",
        "doc:plans#owner@user:morty",
        "doc:plans ",
    ] {
        assert!(
            now.iter().any(|line| line.starts_with(present)),
            "{present} in {now:#?}"
        );
    }
    for gone in [
        "user:morty",
        "identity:morty@example.com",
        "user:morty#identifier@identity:morty@example.com",
        "group:admins#member@user:rick",
        "group:admins#member@user:morty",
    ] {
        assert!(
            !now.iter().any(|line| line.starts_with(gone)),
            "{gone} in {now:#?}"
        );
    }

    // Unchanged: nothing to do, no new revision.
    let report = load(&[]);
    assert!(
        report
            .contains("objects: 0 created, 0 updated, 0 removed; relations: 0 created, 0 removed"),
        "{report}"
    );
    assert!(!report.contains("revision"), "{report}");

    // A record the manifest refuses fails the whole run, changing nothing.
    let mut bad = export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    );
    bad["relations"].as_array_mut().unwrap().push(
        json!({"object_type": "group", "object_id": "admins", "relation": "owner",
            "subject_type": "user", "subject_id": "beth"}),
    );
    bad["objects"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "id": "summer"}));
    write_export(&bad);
    let before = exported(&data);
    let (success, text) = lictor(
        &data,
        &["load", "json", file.to_str().unwrap(), "--source", "okta"],
    );
    assert!(!success, "{text}");
    assert!(text.contains("owner"), "{text}");
    assert_eq!(exported(&data), before);
    // The source still owns what it owned: the next good run removes nothing it should not.
    write_export(&export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    ));
    let report = load(&[]);
    assert!(
        report.contains("0 created, 0 updated, 0 removed"),
        "{report}"
    );
}

#[test]
fn a_scheduled_source_is_synced_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okta.json");
    std::fs::write(
        &file,
        export(&[("rick", "Rick")], &[("admins", &["rick"])]).to_string(),
    )
    .unwrap();
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let server = common::Server::start_prepared(
        &format!(
            "sync:\n  - source: okta\n    json: {}\n    every_seconds: 1\n",
            file.display()
        ),
        false,
        |data| {
            ok(data, &["model", "set", manifest.to_str().unwrap()]);
        },
    );
    let client = reqwest::blocking::Client::new();
    let member = |user: &str| -> bool {
        let answer: Value = client
            .post(server.rest("/api/v3/directory/check"))
            .json(
                &json!({"object_type": "group", "object_id": "admins", "relation": "member",
                "subject_type": "user", "subject_id": user}),
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        answer["check"] == json!(true)
    };
    let eventually = |what: &str, condition: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    eventually("the first run at start", &|| member("rick"));
    std::fs::write(
        &file,
        export(&[("beth", "Beth")], &[("admins", &["beth"])]).to_string(),
    )
    .unwrap();
    eventually("the next scheduled run", &|| {
        member("beth") && !member("rick")
    });
}

const LDAP_MANIFEST: &str = "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user | group#member
  doc:
    relations:
      owner: user
";

const LDAP_BASE: &str = "dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups
";

fn ldap_person(uid: &str, name: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name}\nmail: {uid}@example.org\n"
    )
}

/// An OpenLDAP server of the test's own on a loopback port, killed on drop.
struct Slapd {
    child: std::process::Child,
    url: String,
    /// `ldaps://` beside `url` (which then also offers StartTLS), and the CA to trust, with TLS.
    tls: Option<(String, PathBuf)>,
    _dir: tempfile::TempDir,
}

impl Slapd {
    /// Starts one holding `ldif`; `None` (skipped, saying so) without slapd, except under CI.
    fn start(test: &str, ldif: &str) -> Option<Slapd> {
        Slapd::launch(test, ldif, false)
    }

    /// Starts one that also speaks TLS (LDAPS and StartTLS) with a certificate of a CA of its own.
    fn start_with_tls(test: &str, ldif: &str) -> Option<Slapd> {
        Slapd::launch(test, ldif, true)
    }

    fn launch(test: &str, ldif: &str, tls: bool) -> Option<Slapd> {
        if !Path::new("/usr/sbin/slapd").exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "slapd is required under CI (scripts/ldap-tools.sh installs it)"
            );
            eprintln!("skipping {test}: slapd is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let config = dir.path().join("slapd.conf");
        // The certificate `lictor certs generate` writes: for localhost and 127.0.0.1.
        let certs = dir.path().join("certs");
        let tls_settings = if tls {
            ok(dir.path(), &["certs", "generate"]);
            format!(
                "TLSCACertificateFile {0}/ca.crt\nTLSCertificateFile {0}/server.crt\nTLSCertificateKeyFile {0}/server.key\n",
                certs.display()
            )
        } else {
            String::new()
        };
        std::fs::write(
            &config,
            format!(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\ninclude /etc/ldap/schema/inetorgperson.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {}/slapd.pid\n{tls_settings}database mdb\nsuffix \"dc=example,dc=org\"\nrootdn \"cn=admin,dc=example,dc=org\"\nrootpw secret\ndirectory {}/db\n",
                dir.path().display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let data = dir.path().join("data.ldif");
        std::fs::write(&data, ldif).unwrap();
        let loaded = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(&config)
            .arg("-l")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            loaded.status.success(),
            "{}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        let port = common::free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let tls = tls.then(|| {
            let port = common::free_port();
            (format!("ldaps://127.0.0.1:{port}"), certs.join("ca.crt"))
        });
        let listeners = match &tls {
            Some((ldaps, _)) => format!("{url}/ {ldaps}/"),
            None => format!("{url}/"),
        };
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&config)
            .arg("-h")
            .arg(listeners)
            .args(["-d", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        common::wait_for_listener(&format!("127.0.0.1:{port}"), "slapd");
        if let Some((ldaps, _)) = &tls {
            common::wait_for_listener(ldaps.trim_start_matches("ldaps://"), "slapd (ldaps)");
        }
        Some(Slapd {
            child,
            url,
            tls,
            _dir: dir,
        })
    }

    /// Applies an LDIF of changes with ldapmodify.
    fn modify(&self, ldif: &str) {
        let output = common::run_with_input(
            Command::new("ldapmodify").args([
                "-x",
                "-H",
                &self.url,
                "-D",
                "cn=admin,dc=example,dc=org",
                "-w",
                "secret",
            ]),
            ldif,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn users_and_nested_groups_are_loaded_from_ldap_and_kept_in_step() {
    let ldif = format!(
        "{LDAP_BASE}\n{}\n{}\n{}\ndn: cn=admins,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: admins\nmember: uid=rick,ou=people,dc=example,dc=org\n\ndn: cn=editors,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: editors\nmember: uid=morty,ou=people,dc=example,dc=org\nmember: cn=admins,ou=groups,dc=example,dc=org\n",
        ldap_person("rick", "Rick"),
        ldap_person("morty", "Morty"),
        ldap_person("beth", "Beth"),
    );
    let Some(slapd) = Slapd::start(
        "users_and_nested_groups_are_loaded_from_ldap_and_kept_in_step",
        &ldif,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, LDAP_MANIFEST).unwrap();
    ok(&data, &["model", "set", manifest.to_str().unwrap()]);
    let load = || {
        let output = common::run_with_input(
            Command::new(env!("CARGO_BIN_EXE_lictor"))
                .arg("--data-dir")
                .arg(&data)
                .args(["load", "ldap", &slapd.url, "--base-dn", "dc=example,dc=org"])
                .args([
                    "--bind-dn",
                    "cn=admin,dc=example,dc=org",
                    "--source",
                    "corp",
                ]),
            "secret\n",
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        text
    };
    let check = |subject: &str, relation: &str, object: &str| {
        let (allowed, _) = lictor(&data, &["check", subject, relation, object]);
        allowed
    };
    let report = load();
    assert!(report.contains("objects: 11 created"), "{report}");
    // Nested: rick is in admins, which is in editors.
    assert!(check("user:rick", "member", "group:editors"));
    assert!(check("user:morty", "member", "group:editors"));
    assert!(!check("user:beth", "member", "group:editors"));
    assert!(check(
        "identity:rick@example.org",
        "identifier",
        "user:rick"
    ));
    // The application's own relation to a synced user.
    ok(&data, &["object", "set", "doc:plans"]);
    ok(
        &data,
        &["relation", "set", "doc:plans", "owner", "user:morty"],
    );

    // The directory changes: morty leaves, beth joins admins, rick leaves admins.
    slapd.modify(
        "dn: uid=morty,ou=people,dc=example,dc=org\nchangetype: delete\n\ndn: cn=admins,ou=groups,dc=example,dc=org\nchangetype: modify\nreplace: member\nmember: uid=beth,ou=people,dc=example,dc=org\n\ndn: cn=editors,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\nmember: uid=morty,ou=people,dc=example,dc=org\n",
    );
    let report = load();
    assert!(
        report.contains("3 removed"),
        "user:morty and his two identities: {report}"
    );
    assert!(check("user:beth", "member", "group:editors"));
    assert!(!check("user:rick", "member", "group:editors"));
    assert!(!check("user:morty", "member", "group:editors"));
    assert!(!check("identity:morty", "identifier", "user:morty"));
    assert!(
        check("user:morty", "owner", "doc:plans"),
        "the application's relation stays"
    );
    // Run again: nothing to do.
    let report = load();
    assert!(
        report.contains("0 created, 0 updated, 0 removed; relations: 0 created, 0 removed"),
        "{report}"
    );
}

#[test]
fn a_user_who_arrived_only_by_sync_is_authorized_with_a_token_of_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idp.json");
    let secret = "a-test-secret-of-the-identity-provider";
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let export = |users: &[&str]| {
        let mut objects = Vec::new();
        let mut relations = Vec::new();
        for user in users {
            objects.push(json!({"type": "user", "id": user, "display_name": user}));
            objects.push(json!({"type": "identity", "id": format!("{user}@example.com")}));
            relations.push(json!({"object_type": "user", "object_id": user,
                "relation": "identifier", "subject_type": "identity",
                "subject_id": format!("{user}@example.com")}));
            relations.push(json!({"object_type": "resource-creator",
                "object_id": "resource-creators", "relation": "member",
                "subject_type": "user", "subject_id": user}));
        }
        objects.push(json!({"type": "resource-creator", "id": "resource-creators"}));
        std::fs::write(
            &file,
            json!({"objects": objects, "relations": relations}).to_string(),
        )
        .unwrap();
    };
    export(&["summer"]);
    let server = common::Server::start_prepared(
        &format!(
            "policies:\n  dir: {}\njwt:\n  issuers:\n    - issuer: https://idp.example\n      keys:\n        - algorithm: HS256\n          secret: {secret}\nsync:\n  - source: idp\n    json: {}\n    every_seconds: 1\n",
            repository.join("examples/demo/policies").display(),
            file.display()
        ),
        false,
        |data| {
            let manifest = repository.join("examples/demo/manifest.yaml");
            ok(data, &["model", "set", manifest.to_str().unwrap()]);
        },
    );
    let token = |subject: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"iss": "https://idp.example", "sub": subject, "exp": now + 600}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let client = reqwest::blocking::Client::new();
    let may_create = |subject: &str| -> Value {
        client
            .post(server.url("authorizer-rest", "/api/v2/authz/is"))
            .json(&json!({
                "identity_context": {"type": "IDENTITY_TYPE_JWT", "identity": token(subject)},
                "policy_context": {"path": "todoApp.POST.todos", "decisions": ["allowed"]},
                "resource_context": {},
            }))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let allowed = |answer: &Value| answer["decisions"][0]["is"] == json!(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !allowed(&may_create("summer@example.com")) {
        assert!(
            Instant::now() < deadline,
            "summer never arrived: {}",
            may_create("summer@example.com")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Someone the identity provider does not know is not resolved.
    assert!(!allowed(&may_create("jerry@example.com")));
    // Summer leaves the identity provider: the next run removes her, and her token resolves no more.
    export(&[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while allowed(&may_create("summer@example.com")) {
        assert!(Instant::now() < deadline, "summer was never removed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ldap_is_read_over_ldaps_and_starttls_trusting_the_given_ca() {
    let ldif = format!("{LDAP_BASE}\n{}", ldap_person("rick", "Rick"));
    let Some(slapd) = Slapd::start_with_tls(
        "ldap_is_read_over_ldaps_and_starttls_trusting_the_given_ca",
        &ldif,
    ) else {
        return;
    };
    let (ldaps, ca) = slapd.tls.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, LDAP_MANIFEST).unwrap();
    ok(&data, &["model", "set", manifest.to_str().unwrap()]);
    let load = |url: &str, extra: &[&str]| {
        let output = common::run_with_input(
            Command::new(env!("CARGO_BIN_EXE_lictor"))
                .arg("--data-dir")
                .arg(&data)
                .args(["load", "ldap", url, "--base-dn", "dc=example,dc=org"])
                .args(["--bind-dn", "cn=admin,dc=example,dc=org", "--dry-run"])
                .args(extra),
            "secret\n",
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let ca = ca.to_str().unwrap();
    let (loaded, text) = load(&ldaps, &["--ca-cert", ca]);
    assert!(loaded && text.contains("user:rick"), "{text}");
    let (loaded, text) = load(&slapd.url, &["--starttls", "--ca-cert", ca]);
    assert!(loaded && text.contains("user:rick"), "{text}");
    // A certificate no trusted CA signed is refused, and the error says where.
    let (loaded, text) = load(&ldaps, &[]);
    assert!(!loaded, "{text}");
    assert!(text.contains(&ldaps), "{text}");
    let (loaded, text) = load(&ldaps, &["--ca-cert", "/nonexistent/ca.crt"]);
    assert!(!loaded && text.contains("/nonexistent/ca.crt"), "{text}");
}
