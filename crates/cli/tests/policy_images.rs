//! Policy images against a real registry (Debian's `docker-registry`, the CNCF distribution
//! registry) started on loopback ports, plain and with TLS and htpasswd basic auth, with `skopeo` as
//! an independent client; and an authorizer following an image while it is pushed anew under load.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The htpasswd user of the authenticated registry, and a bcrypt hash of its password.
const USER: &str = "ci";
const PASSWORD: &str = "s3cret-policy";
const HTPASSWD: &str = "ci:$2b$06$caYGIveCiLPPofukoy/y3ORGn6PMrJ55pZlv78UUDsyq6nS/.WjNu\n";

/// Whether `tool` runs; without it the test is skipped, saying so, except under CI (`CI=true`),
/// where the test script installs it.
fn available(tool: &str, test: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required under CI (scripts/registry-tools.sh installs it)"
        );
        eprintln!("skipping {test}: {tool} is not installed");
    }
    found
}

/// A `docker-registry serve` child on a loopback port, killed on drop.
struct Registry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
}

/// TLS and basic auth for a registry: the certificate folder of `lictor certs generate`.
struct Secured<'a> {
    certs: &'a Path,
}

impl Registry {
    fn start(secured: Option<Secured<'_>>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some(Secured { certs }) = secured {
            std::fs::write(dir.path().join("htpasswd"), HTPASSWD).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: lictor-test\n    path: {}\n",
                certs.join("server.crt").display(),
                certs.join("server.key").display(),
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::wait_for_listener(&host, "the registry");
        Registry { child, host, dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lictor --data-dir DATA ARGS`, with `stdin` given; credentials kept in `auth`.
fn lictor(data: &Path, auth: &Path, args: &[&str], stdin: &str) -> Output {
    common::run_with_input(
        Command::new(env!("CARGO_BIN_EXE_lictor"))
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .env("LICTOR_REGISTRY_AUTH", auth),
        stdin,
    )
}

/// Runs a command that must succeed; answers its standard output.
fn ok(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail with exit status 2; answers its standard error.
fn refused(output: Output, what: &str) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "{what}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// The `sha256:…` digest in a line such as `pushed REF (sha256:…)`.
fn digest_in(text: &str) -> String {
    let start = text.find("sha256:").expect("a digest");
    text[start..start + 71].to_string()
}

fn skopeo(args: &[&str]) -> String {
    let output = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn images_move_through_a_plain_registry_and_skopeo_reads_and_writes_them() {
    let test = "images_move_through_a_plain_registry_and_skopeo_reads_and_writes_them";
    if !available("docker-registry", test) || !available("skopeo", test) {
        return;
    }
    let registry = Registry::start(None);
    let host = &registry.host;
    let dir = tempfile::tempdir().unwrap();
    let (data, auth) = (dir.path().join("data"), dir.path().join("auth.json"));
    let policies = repository().join("examples/demo/policies");
    let image = format!("{host}/demo/policy:1");

    let built = ok(
        lictor(
            &data,
            &auth,
            &[
                "policy",
                "build",
                policies.to_str().unwrap(),
                "-t",
                &image,
                "-r",
                "rev-1",
            ],
            "",
        ),
        "build",
    );
    let digest = digest_in(&built);
    let pushed = lictor(
        &data,
        &auth,
        &["policy", "push", &image, "--plain-http"],
        "",
    );
    assert!(
        String::from_utf8_lossy(&pushed.stderr).contains("pushed sha256:"),
        "progress is shown"
    );
    assert_eq!(digest_in(&ok(pushed, "push")), digest);

    // skopeo reads what Lictor pushed.
    let inspected: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]))
    .unwrap();
    assert_eq!(inspected["Digest"], json!(digest));
    let raw: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]))
    .unwrap();
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(raw["annotations"]["org.openpolicyregistry.type"], "policy");
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.revision"],
        "rev-1"
    );

    // An OCI layout Lictor saved, copied into the registry by skopeo, pulls with the same digest.
    let layout = dir.path().join("layout");
    ok(
        lictor(
            &data,
            &auth,
            &[
                "policy",
                "save",
                &image,
                "--oci-layout",
                layout.to_str().unwrap(),
            ],
            "",
        ),
        "save",
    );
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", layout.display()),
        &format!("docker://{host}/copied/policy:7"),
    ]);
    let fresh = dir.path().join("fresh");
    let copied = format!("{host}/copied/policy:7");
    let pulled = ok(
        lictor(
            &fresh,
            &auth,
            &["policy", "pull", &copied, "--plain-http"],
            "",
        ),
        "pull",
    );
    assert_eq!(digest_in(&pulled), digest);
    let inspect: Value = serde_json::from_str(&ok(
        lictor(&fresh, &auth, &["policy", "inspect", &copied], ""),
        "inspect",
    ))
    .unwrap();
    assert_eq!(inspect["bundle"]["revision"], "rev-1");
    assert!(inspect["bundle"]["files"]
        .as_array()
        .unwrap()
        .contains(&json!("rebac.rego")));

    // The bundle saved alone is the OPA bundle the server loads.
    let bundle = dir.path().join("bundle.tar.gz");
    ok(
        lictor(
            &fresh,
            &auth,
            &["policy", "save", &copied, "-f", bundle.to_str().unwrap()],
            "",
        ),
        "save the bundle",
    );
    assert_eq!(
        format!(
            "sha256:{:x}",
            Sha256::digest(std::fs::read(&bundle).unwrap())
        ),
        raw["layers"][0]["digest"].as_str().unwrap()
    );

    // Pinned by digest; listed, tagged, removed.
    let pinned = format!("{host}/demo/policy@{digest}");
    assert_eq!(
        digest_in(&ok(
            lictor(
                &fresh,
                &auth,
                &["policy", "pull", &pinned, "--plain-http"],
                ""
            ),
            "pull by digest"
        )),
        digest
    );
    ok(
        lictor(
            &fresh,
            &auth,
            &["policy", "tag", &copied, &format!("{host}/other:2")],
            "",
        ),
        "tag",
    );
    let images = ok(lictor(&fresh, &auth, &["policy", "images"], ""), "images");
    assert!(images.starts_with("REPOSITORY"), "{images}");
    assert_eq!(images.matches(&digest[7..19]).count(), 3, "{images}");
    ok(lictor(&fresh, &auth, &["policy", "rm", &copied], ""), "rm");
    let error = refused(
        lictor(&fresh, &auth, &["policy", "inspect", &copied], ""),
        "inspect a removed image",
    );
    assert!(error.contains(&format!("no image {copied}")), "{error}");

    // Content the registry serves under a digest it does not have is refused, naming both digests.
    let layer = raw["layers"][0]["digest"].as_str().unwrap();
    let stored = registry
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&layer[7..9])
        .join(&layer[7..])
        .join("data");
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();
    let error = refused(
        lictor(
            &dir.path().join("third"),
            &auth,
            &["policy", "pull", &image, "--plain-http"],
            "",
        ),
        "pull a tampered blob",
    );
    assert!(
        error.contains(&format!("expected {layer}")) && error.contains("content has digest"),
        "{error}"
    );

    // A tag the registry does not have, and a reference without a registry.
    let error = refused(
        lictor(
            &fresh,
            &auth,
            &[
                "policy",
                "pull",
                &format!("{host}/demo/policy:9"),
                "--plain-http",
            ],
            "",
        ),
        "pull a missing tag",
    );
    assert!(
        error.contains("404") && error.contains("MANIFEST_UNKNOWN"),
        "{error}"
    );
    let error = refused(
        lictor(&fresh, &auth, &["policy", "pull", "demo/policy:1"], ""),
        "pull without a registry",
    );
    assert!(error.contains("name the registry"), "{error}");
}

#[test]
fn a_registry_with_tls_and_basic_auth_takes_only_the_right_credentials() {
    let test = "a_registry_with_tls_and_basic_auth_takes_only_the_right_credentials";
    if !available("docker-registry", test) || !available("skopeo", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, auth) = (dir.path().join("data"), dir.path().join("auth.json"));
    ok(lictor(&data, &auth, &["certs", "generate"], ""), "certs");
    let certs = data.join("certs");
    let ca = certs.join("ca.crt");
    let ca = ca.to_str().unwrap();
    let registry = Registry::start(Some(Secured { certs: &certs }));
    let host = &registry.host;
    let image = format!("{host}/secure/policy:1");
    let policies = repository().join("examples/demo/policies");
    let digest = digest_in(&ok(
        lictor(
            &data,
            &auth,
            &["policy", "build", policies.to_str().unwrap(), "-t", &image],
            "",
        ),
        "build",
    ));

    let error = refused(
        lictor(&data, &auth, &["policy", "push", &image], ""),
        "push untrusted",
    );
    assert!(
        error.contains("UnknownIssuer") || error.contains("certificate"),
        "{error}"
    );
    let error = refused(
        lictor(
            &data,
            &auth,
            &["policy", "push", &image, "--ca-cert", ca],
            "",
        ),
        "push without credentials",
    );
    assert!(error.contains("asks for credentials"), "{error}");
    let login = [
        "policy",
        "login",
        host,
        "-u",
        USER,
        "--password-stdin",
        "--ca-cert",
        ca,
    ];
    let error = refused(
        lictor(&data, &auth, &login, "wrong\n"),
        "login with a wrong password",
    );
    assert!(error.contains("credentials refused"), "{error}");
    assert!(!auth.exists(), "refused credentials are not kept");
    ok(
        lictor(&data, &auth, &login, &format!("{PASSWORD}\n")),
        "login",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&auth).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "credentials are readable by their owner only"
        );
    }
    assert_eq!(
        digest_in(&ok(
            lictor(
                &data,
                &auth,
                &["policy", "push", &image, "--ca-cert", ca],
                ""
            ),
            "push"
        )),
        digest
    );
    let other = dir.path().join("other");
    assert_eq!(
        digest_in(&ok(
            lictor(
                &other,
                &auth,
                &["policy", "pull", &image, "--ca-cert", ca],
                ""
            ),
            "pull"
        )),
        digest
    );
    // skopeo, trusting the same CA, with the same credentials.
    let cert_dir = dir.path().join("cert-dir");
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::copy(certs.join("ca.crt"), cert_dir.join("ca.crt")).unwrap();
    let inspected: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--cert-dir",
        cert_dir.to_str().unwrap(),
        "--creds",
        &format!("{USER}:{PASSWORD}"),
        &format!("docker://{image}"),
    ]))
    .unwrap();
    assert_eq!(inspected["Digest"], json!(digest));

    ok(
        lictor(&data, &auth, &["policy", "logout", host], ""),
        "logout",
    );
    let error = refused(
        lictor(
            &other,
            &auth,
            &["policy", "pull", &image, "--ca-cert", ca],
            "",
        ),
        "pull after logout",
    );
    assert!(error.contains("asks for credentials"), "{error}");
}

/// Writes an OCI image layout holding one policy image as Aserto's policy CLI makes it today (an
/// empty config, one bundle layer), named `tag`; the bundle holds `files`.
fn aserto_style_layout(dir: &Path, tag: &str, files: &[(&str, &str)]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = format!("{:x}", Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        archive
            .append_data(&mut header, name, text.as_bytes())
            .unwrap();
    }
    let bundle = archive.into_inner().unwrap().finish().unwrap();
    let (layer, layer_size) = put(&bundle);
    let (config, config_size) = put(b"{}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
            "size": layer_size, "annotations": {"org.openpolicyregistry.type": "policy"}}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let (digest, size) = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

/// A policy whose package `hot.swap` says which version it is: `vN` is true, the others undefined.
fn versioned_policy(version: u32) -> String {
    format!("package hot.swap\n\nimport rego.v1\n\nv{version} := true\n")
}

/// `lictor run` on a configuration, until dropped.
struct Authorizer {
    _running: common::Running,
    rest: String,
}

impl Authorizer {
    fn start(config: &Path) -> Result<Authorizer, String> {
        let running = common::Running::start(config, &[])?;
        Ok(Authorizer {
            rest: running.ports["authorizer-rest"].clone(),
            _running: running,
        })
    }
}

/// Which version answers an Is call, or why the call failed.
fn version(client: &reqwest::blocking::Client, rest: &str) -> Result<u32, String> {
    tenant_version(client, rest, None)
}

/// Which version answers an Is call of a tenant (the default one with `None`).
fn tenant_version(
    client: &reqwest::blocking::Client,
    rest: &str,
    tenant: Option<&str>,
) -> Result<u32, String> {
    let body = json!({
        "identity_context": {"type": "IDENTITY_TYPE_NONE"},
        "policy_context": {"path": "hot.swap", "decisions": ["v1", "v2", "v3", "v4"]},
        "resource_context": {},
    });
    let mut request = client.post(format!("http://{rest}/api/v2/authz/is"));
    if let Some(tenant) = tenant {
        request = request.header("aserto-tenant-id", tenant);
    }
    let response = request.json(&body).send().map_err(|e| e.to_string())?;
    let status = response.status();
    let answer: Value = response.json().map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {answer}"));
    }
    let true_ones: Vec<u32> = answer["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["is"] == json!(true))
        .map(|d| d["decision"].as_str().unwrap()[1..].parse().unwrap())
        .collect();
    match true_ones.as_slice() {
        [one] => Ok(*one),
        other => Err(format!("not one version: {other:?} in {answer}")),
    }
}

#[test]
fn the_authorizer_follows_an_image_under_load_and_keeps_the_last_good_one() {
    let test = "the_authorizer_follows_an_image_under_load_and_keeps_the_last_good_one";
    if !available("docker-registry", test) || !available("skopeo", test) {
        return;
    }
    let registry = Registry::start(None);
    let host = registry.host.clone();
    let dir = tempfile::tempdir().unwrap();
    let (tools, auth) = (dir.path().join("tools"), dir.path().join("auth.json"));
    let image = format!("{host}/hot/swap:live");
    let push_version = |version: u32| -> String {
        let folder = dir.path().join(format!("v{version}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("swap.rego"), versioned_policy(version)).unwrap();
        let revision = format!("rev-{version}");
        ok(
            lictor(
                &tools,
                &auth,
                &[
                    "policy",
                    "build",
                    folder.to_str().unwrap(),
                    "-t",
                    &image,
                    "-r",
                    &revision,
                ],
                "",
            ),
            "build",
        );
        digest_in(&ok(
            lictor(
                &tools,
                &auth,
                &["policy", "push", &image, "--plain-http"],
                "",
            ),
            "push",
        ))
    };
    let first = push_version(1);

    let data = dir.path().join("data");
    let config = dir.path().join("lictor.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nlisten:\n  authorizer_grpc: 0\n  authorizer_rest: 0\n  directory_grpc: 0\n  directory_rest: 0\n  health: 0\n  metrics: 0\nconsole:\n  port: 0\ntls:\n  enabled: false\ndecision_logs:\n  enabled: true\n  recent: 100000\npolicies:\n  image: {image}\n  poll_seconds: 1\n  registry:\n    plain_http: true\n",
            data.display()
        ),
    )
    .unwrap();
    let authorizer = Authorizer::start(&config).unwrap();
    let rest = authorizer.rest.clone();
    let client = reqwest::blocking::Client::new();
    assert_eq!(version(&client, &rest), Ok(1));

    // A load loop of Is calls (two clients) while new versions are pushed.
    let stop = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let (stop, rest) = (stop.clone(), rest.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    seen.push(version(&client, &rest));
                }
                seen
            })
        })
        .collect();
    let wait_for = |wanted: u32| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while version(&client, &rest) != Ok(wanted) {
            assert!(
                Instant::now() < deadline,
                "version {wanted} was not picked up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let second = push_version(2);
    wait_for(2);

    // An image that does not compile, pushed by another tool, is refused; version 2 keeps serving.
    let layout = dir.path().join("broken");
    aserto_style_layout(
        &layout,
        "b",
        &[("swap.rego", "package hot.swap\nv3 := {\n")],
    );
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:b", layout.display()),
        &format!("docker://{image}"),
    ]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(version(&client, &rest), Ok(2));

    // Version 3 as Aserto's policy CLI lays an image out (an empty config) is served.
    let layout = dir.path().join("aserto");
    aserto_style_layout(
        &layout,
        "a",
        &[
            (".manifest", r#"{"revision":"rev-3","roots":["hot"]}"#),
            ("hot/swap.rego", &versioned_policy(3)),
        ],
    );
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:a", layout.display()),
        &format!("docker://{image}"),
    ]);
    wait_for(3);
    stop.store(true, Ordering::Relaxed);
    let mut requests = 0;
    for handle in loops {
        let seen = handle.join().unwrap();
        requests += seen.len();
        let failures: Vec<&String> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        // Each client sees one version or the next, never an older one again.
        let versions: Vec<u32> = seen.iter().map(|r| *r.as_ref().unwrap()).collect();
        assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
        assert_eq!(
            (versions.first(), versions.last()),
            (Some(&1), Some(&3)),
            "{versions:?}"
        );
    }
    assert!(requests > 50, "the load loop ran: {requests} requests");

    // The decision log names each image digest and bundle revision, in order.
    let records: Value = client
        .get(format!(
            "http://{rest}/api/v3/lictor/decisions?limit=100000"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    // By first appearance: a request that took the old set just before a swap may be logged just
    // after one that took the new set.
    let mut images: Vec<(String, String)> = Vec::new();
    for record in records["results"].as_array().unwrap().iter().rev() {
        let pair = (
            record["policy_image"].as_str().unwrap().to_string(),
            record["bundle_revision"].as_str().unwrap().to_string(),
        );
        if !images.contains(&pair) {
            images.push(pair);
        }
    }
    let names: Vec<&str> = images.iter().map(|(image, _)| image.as_str()).collect();
    assert_eq!(names.len(), 3, "{images:?}");
    assert!(
        names[0].ends_with(&first) && names[1].ends_with(&second),
        "{images:?}"
    );
    let revisions: Vec<&str> = images.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(revisions, ["rev-1", "rev-2", "rev-3"]);
    let loaded: Value = client
        .get(format!("http://{rest}/api/v3/lictor/policies"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(loaded["bundle_revision"], "rev-3");
    assert_eq!(loaded["image"].as_str(), Some(names[2]));

    // Rolling back is pinning an earlier digest; a tenant follows its own image.
    let pinned_config = dir.path().join("pinned.yaml");
    std::fs::write(
        &pinned_config,
        format!(
            "data_dir: {}\nlisten:\n  authorizer_grpc: 0\n  authorizer_rest: 0\n  directory_grpc: 0\n  directory_rest: 0\n  health: 0\n  metrics: 0\nconsole:\n  port: 0\ntls:\n  enabled: false\npolicies:\n  image: {host}/hot/swap@{first}\n  registry:\n    plain_http: true\ntenants:\n  - id: acme\n    policies:\n      image: {image}\n      registry:\n        plain_http: true\n",
            dir.path().join("pinned").display()
        ),
    )
    .unwrap();
    let pinned = Authorizer::start(&pinned_config).unwrap();
    assert_eq!(version(&client, &pinned.rest), Ok(1));
    assert_eq!(tenant_version(&client, &pinned.rest, Some("acme")), Ok(3));
    drop(pinned);

    // With the registry down, a restart serves the last good image.
    drop(authorizer);
    drop(registry);
    let restarted = Authorizer::start(&config).unwrap();
    assert_eq!(version(&client, &restarted.rest), Ok(3));
    drop(restarted);

    // Wrong credentials with nothing stored: the start fails, naming the image and why.
    let empty = dir.path().join("empty");
    let secured_dir = dir.path().join("secured");
    ok(
        lictor(&secured_dir, &auth, &["certs", "generate"], ""),
        "certs",
    );
    let secured = Registry::start(Some(Secured {
        certs: &secured_dir.join("certs"),
    }));
    let config = dir.path().join("wrong.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nlisten:\n  authorizer_grpc: 0\n  authorizer_rest: 0\n  directory_grpc: 0\n  directory_rest: 0\n  health: 0\n  metrics: 0\nconsole:\n  port: 0\ntls:\n  enabled: false\npolicies:\n  image: {}/hot/swap:live\n  registry:\n    ca_cert: {}\n    username: {USER}\n    password: wrong\n",
            empty.display(),
            secured.host,
            secured_dir.join("certs/ca.crt").display()
        ),
    )
    .unwrap();
    let error = Authorizer::start(&config).err().expect("the start fails");
    assert!(
        error.contains("policy image") && error.contains("credentials refused"),
        "{error}"
    );
    assert!(error.contains("no earlier image"), "{error}");
}
