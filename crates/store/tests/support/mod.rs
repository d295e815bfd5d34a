//! Opens a store on either backend for the tests that run against both: a fresh data directory, or a
//! fresh database on the PostgreSQL server (`LICTOR_TEST_POSTGRES`, by default the local one), dropped
//! afterwards.
#![allow(dead_code)]

use lictor_store::{Store, StoreLocation};
use std::sync::atomic::{AtomicU32, Ordering};

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Redb,
    Postgres,
}

/// The server that test databases are made on.
pub fn server_url() -> String {
    std::env::var("LICTOR_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn admin(sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {}: {e}", server_url()));
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    });
}

/// A database of its own, dropped with this value.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lictor_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin(&format!("CREATE DATABASE {name}"));
        let base = server_url();
        let prefix = base.rsplit_once('/').map_or(base.as_str(), |(p, _)| p);
        let url = format!("{prefix}/{name}");
        TestDatabase { name, url }
    }

    pub fn sql(&self, sql: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
        });
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Keeps a test's data directory or database until the end of the test.
pub enum Backing {
    Directory(tempfile::TempDir),
    Database(TestDatabase),
}

/// A new, empty store of `kind`.
pub fn open(kind: Kind) -> (Backing, Store) {
    match kind {
        Kind::Redb => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            (Backing::Directory(dir), store)
        }
        Kind::Postgres => {
            let database = TestDatabase::new();
            let store = Store::open_at(&StoreLocation::Postgres(database.url.clone())).unwrap();
            (Backing::Database(database), store)
        }
    }
}

/// Runs the test function `$name(kind)` once on each backend, as `$name::redb` and `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn redb() {
                    super::$name(super::support::Kind::Redb);
                }
                #[test]
                fn postgres() {
                    super::$name(super::support::Kind::Postgres);
                }
            }
        )*
    };
}

/// Ends every session on database `name`.
pub fn terminate(name: &str) {
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
}

/// Lets sessions connect to database `name`, or not.
pub fn allow_connections(name: &str, allow: bool) {
    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"));
}
