//! The `lictor run` child process that the end-to-end tests talk to.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `lictor run` child, killed on drop.
pub struct Server {
    pub child: Child,
    pub ports: HashMap<String, String>,
    pub ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
}

/// Every port ephemeral; the `listen` section comes last, so a test's extra configuration may continue it.
pub const PORTS: &str = "console:
  port: 0
listen:
  authorizer_grpc: 0
  authorizer_rest: 0
  directory_grpc: 0
  directory_rest: 0
  health: 0
  metrics: 0
";

impl Server {
    pub fn start(extra_config: &str, demo: bool) -> Server {
        Server::start_prepared(extra_config, demo, |_| {})
    }

    /// Starts after `prepare` has filled the data directory (with offline CLI commands).
    pub fn start_prepared(extra_config: &str, demo: bool, prepare: impl FnOnce(&Path)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        prepare(&path.join("data"));
        let config = path.join("lictor.yaml");
        let text = format!(
            "data_dir: {}\n{PORTS}{extra_config}",
            path.join("data").display()
        );
        std::fs::write(&config, text).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lictor"));
        command
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if demo {
            command.arg("--demo");
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut ports = HashMap::new();
        let mut ca = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["listening", name, address] => {
                    ports.insert(name.to_string(), address.to_string());
                }
                ["tls", "ca", file] => ca = Some(PathBuf::from(file)),
                ["ready"] => break,
                _ => {}
            }
        }
        // Topaz's six, and Cerbos's when the configuration has a `cerbos` section.
        assert!(ports.len() >= 6, "every port announced: {ports:?}");
        Server {
            child,
            ports,
            ca,
            _dir: dir,
            dir: path,
        }
    }

    pub fn url(&self, port: &str, path: &str) -> String {
        format!("http://{}{path}", self.ports[port])
    }

    pub fn rest(&self, path: &str) -> String {
        self.url("directory-rest", path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Topaz's proto field names rewritten to protojson's JSON names (`object_type` to `objectType`),
/// which Topaz reads alike; free-form JSON (`properties`, `resource_context`) is left as it is.
pub fn camel_case_keys(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn lower_camel(name: &str) -> String {
        let mut parts = name.split('_');
        let mut out = parts.next().unwrap_or_default().to_string();
        for part in parts {
            let mut chars = part.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        }
        out
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if key == "properties" || key == "resource_context" {
                        value.clone()
                    } else {
                        camel_case_keys(value)
                    };
                    (lower_camel(key), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel_case_keys).collect()),
        other => other.clone(),
    }
}

/// `lictor run` on a configuration file the test owns (so that it can start again on the same data),
/// killed on drop.
pub struct Running {
    pub child: Child,
    pub ports: HashMap<String, String>,
}

impl Running {
    /// Starts `lictor run --config CONFIG ARGS` and waits until it serves; the error is its
    /// standard error when it exits first.
    pub fn start(config: &Path, args: &[&str]) -> Result<Running, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lictor"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ports = HashMap::new();
        let mut ready = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["listening", name, address] => {
                    ports.insert(name.to_string(), address.to_string());
                }
                ["ready"] => {
                    ready = true;
                    break;
                }
                _ => {}
            }
        }
        if ready {
            Ok(Running { child, ports })
        } else {
            let output = child.wait_with_output().unwrap();
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    pub fn url(&self, port: &str, path: &str) -> String {
        format!("http://{}{path}", self.ports[port])
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now on 127.0.0.1, for a server that must come back on the same one.
///
/// It is drawn below the kernel's ephemeral range (32768 and up on Linux): a port the kernel handed
/// out could be handed out again, as the local end of any test's outgoing connection, before the
/// server binds it or while it restarts.
pub fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20_000..32_768);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The PostgreSQL server the tests make their databases on (`LICTOR_TEST_POSTGRES`, by default the
/// local one, which the test command starts).
pub fn postgres_server() -> String {
    std::env::var("LICTOR_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs SQL on the server's `test` database.
pub fn postgres_admin(sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(&postgres_server(), tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", postgres_server()));
        tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// A database of its own on the test server, dropped with this value.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A fresh database named after `prefix`, this process and a counter.
    pub fn create(prefix: &str) -> TestDatabase {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        postgres_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        postgres_admin(&format!("CREATE DATABASE {name}"));
        let base = postgres_server();
        let prefix = base.rsplit_once('/').map_or(base.as_str(), |(p, _)| p);
        let url = format!("{prefix}/{name}");
        TestDatabase { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        postgres_admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs `command` with `input` on its standard input and its output captured.
pub fn run_with_input(command: &mut Command, input: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Waits up to 20 s for something to listen on `address` (`HOST:PORT`); `what` names it if not.
pub fn wait_for_listener(address: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start on {address}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
