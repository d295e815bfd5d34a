//! The `lictor` binary: `lictor run` serves the authorizer and directory; the other commands work
//! offline on a data directory.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lictor_directory::{CheckRequest, LookupObjectsRequest, LookupSubjectsRequest, Page};
use lictor_model::{ObjectRecord, RelationRecord, SubjectRef};
use lictor_store::{Store, StoreLocation};
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cerbos_compile;
mod policy_images;
mod policy_tests;
mod serve;
mod table;

/// mimalloc instead of the C library's allocator: a request allocates and frees many small buffers on
/// every worker thread, and glibc's malloc spent an eighth of the server's time there under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lictor: an authorization service with a Topaz-compatible directory.
#[derive(Parser)]
#[command(name = "lictor", version, about)]
struct Cli {
    /// Data directory of the embedded store [default: lictor-data, or the config file's data_dir].
    #[arg(long, global = true, env = "LICTOR_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the directory in PostgreSQL instead (`postgres://USER@HOST:PORT/DB`), shared by every
    /// lictor that names the same database [default: the config file's store].
    #[arg(long, global = true, env = "LICTOR_STORE")]
    store: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manifest (model) commands.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Import objects and relations from JSON Lines or Topaz JSON (`-` for stdin), all or nothing.
    Import {
        /// The file to import.
        file: PathBuf,
    },
    /// Bring users, identities and groups in step with an outside source (an identity provider's
    /// export): what the source's previous load wrote and it no longer has is removed, and records
    /// the application wrote are never touched.
    #[command(subcommand)]
    Load(LoadCommand),
    /// Export every object and relation as JSON Lines.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Does SUBJECT have PERMISSION on OBJECT? Prints allowed (exit 0) or denied (exit 1).
    Check {
        /// `type:id` or `type:id#relation`.
        subject: String,
        /// Relation or permission.
        permission: String,
        /// `type:id`.
        object: String,
        /// Print the trace that proved or refuted the answer.
        #[arg(long)]
        explain: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every object of OBJECT_TYPE on which SUBJECT has PERMISSION.
    LookupObjects {
        /// `type:id` or `type:id#relation`.
        subject: String,
        /// Relation or permission.
        permission: String,
        /// Type of the objects.
        object_type: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Every subject of SUBJECT_TYPE (or `type#relation`) that has PERMISSION on OBJECT.
    LookupSubjects {
        /// `type:id`.
        object: String,
        /// Relation or permission.
        permission: String,
        /// Type of the subjects, or `type#relation` for subject sets.
        subject_type: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Object commands.
    #[command(subcommand)]
    Object(ObjectCommand),
    /// Relation commands.
    #[command(subcommand)]
    Relation(RelationCommand),
    /// Load the demo (citadel users, todo model) into the data directory and show a few checks.
    Demo,
    /// Serve the authorizer and directory (Topaz-compatible gRPC and REST) until SIGTERM or Ctrl-C.
    Run {
        /// Configuration file (see lictor.example.yaml); without one, defaults serve on 127.0.0.1.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Load the demo directory and policies before serving.
        #[arg(long)]
        demo: bool,
        /// A Cerbos configuration file (`cerbos server --config`): serve Cerbos's API from its disk
        /// store on its ports. Alone, only Cerbos's API is served; with --config, beside Topaz's.
        #[arg(long)]
        cerbos_config: Option<PathBuf>,
        /// Override a key of the Cerbos configuration (`server.httpListenAddr=127.0.0.1:3592`), as
        /// `cerbos server --set` does; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE", requires = "cerbos_config")]
        set: Vec<String>,
        /// Be an edge replica of a central Lictor (one of its API ports, `http://central:9292`):
        /// keep a local copy of its directory, answer from it, and refuse writes.
        #[arg(long, value_name = "URL")]
        follow: Option<String>,
    },
    /// TLS certificate commands.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Cerbos policy commands.
    #[command(subcommand)]
    Cerbos(CerbosCommand),
    /// Decision-log commands.
    #[command(subcommand)]
    Decisions(DecisionsCommand),
    /// Run every policy test under PATHS: Rego unit tests (`test_` rules, `ds.*` over the nearest
    /// manifest and its data), Topaz's `*_assertions.json` / `*_decisions.json` /
    /// `*_evaluations.json` files, and Cerbos test suites. Exit 0 when all pass, 1 otherwise.
    Test(policy_tests::Options),
    /// Policy images: build, push, pull, login, logout, images, tag, rm, save, inspect.
    #[command(subcommand)]
    Policy(policy_images::PolicyCommand),
}

#[derive(Subcommand)]
enum LoadCommand {
    /// An export in JSON Lines or Topaz JSON (`{"objects": [...], "relations": [...]}`), as Topaz's
    /// ds-load writes; `-` for standard input.
    Json {
        /// The export.
        file: PathBuf,
        /// The source's name: what its loads wrote is kept under DATA_DIR/sync/NAME.json.
        #[arg(long, default_value = "default")]
        source: String,
        /// Print the differences and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Users and groups of an LDAP directory (OpenLDAP, Active Directory), with nested groups.
    Ldap {
        /// `ldap://HOST:PORT`, or `ldaps://HOST:PORT` for TLS.
        url: String,
        /// Upgrade an `ldap://` connection with StartTLS.
        #[arg(long)]
        starttls: bool,
        /// A PEM CA certificate to trust for the directory's certificate (default: the system's).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        /// Where users and groups are searched.
        #[arg(long)]
        base_dn: String,
        /// The DN to bind as (the password is read from standard input); anonymous without.
        #[arg(long)]
        bind_dn: Option<String>,
        /// Which entries are users [default: inetOrgPerson or user].
        #[arg(long)]
        user_filter: Option<String>,
        /// Which entries are groups [default: groupOfNames, groupOfUniqueNames or group].
        #[arg(long)]
        group_filter: Option<String>,
        /// The attribute that is a user's id [default: uid; Active Directory: sAMAccountName].
        #[arg(long)]
        user_id: Option<String>,
        /// The source's name: what its loads wrote is kept under DATA_DIR/sync/NAME.json.
        #[arg(long, default_value = "ldap")]
        source: String,
        /// Print the differences and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum DecisionsCommand {
    /// Follow a Lictor's decisions, one JSON line each, until interrupted; reconnects and resumes
    /// after a dropped connection or a restart of the server, printing every record once.
    Tail {
        /// The server's API port.
        #[arg(long, default_value = "http://127.0.0.1:8282", env = "LICTOR_ADDRESS")]
        address: String,
        /// Start after this record id (default: every record the server keeps).
        #[arg(long)]
        from: Option<String>,
        /// Only this instance's decisions.
        #[arg(long)]
        instance: Option<String>,
        /// API key, when the server requires one.
        #[arg(long, env = "LICTOR_API_KEY")]
        api_key: Option<String>,
        /// A PEM CA certificate to trust for an `https://` address (the server's `certs/ca.crt`).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CerbosCommand {
    /// Validate a Cerbos disk store and run its test suites (`*_test.yaml`), as `cerbos compile` does:
    /// exit 0 when every policy compiles and every test passes, 1 otherwise.
    Compile {
        /// The policy store directory.
        dir: PathBuf,
        /// Only compile; do not run the test suites.
        #[arg(long)]
        skip_tests: bool,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Write a new local CA and server certificate (localhost, 127.0.0.1, ::1) into DIR/certs.
    Generate {
        /// Replace certificates that exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct PageArgs {
    /// At most this many results (0: all).
    #[arg(long, default_value_t = 0)]
    page_size: usize,
    /// Start after this id (the last id of the previous page).
    #[arg(long)]
    after: Option<String>,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Replace the manifest; refused if stored data would no longer fit it.
    Set {
        /// The manifest YAML file.
        file: PathBuf,
    },
    /// Print the manifest.
    Get,
}

#[derive(Subcommand)]
enum ObjectCommand {
    /// Create or replace an object.
    Set {
        /// `type:id`.
        object: String,
        /// Display name.
        #[arg(long, default_value = "")]
        display_name: String,
        /// Properties as a JSON object.
        #[arg(long, default_value = "{}")]
        properties: String,
        /// Only if the stored etag is this one.
        #[arg(long)]
        etag: Option<String>,
    },
    /// Print an object as JSON.
    Get {
        /// `type:id`.
        object: String,
    },
    /// Delete an object.
    Delete {
        /// `type:id`.
        object: String,
        /// Also delete every relation in which it is the object or the subject.
        #[arg(long)]
        with_relations: bool,
    },
}

#[derive(Subcommand)]
enum RelationCommand {
    /// Add a relation: OBJECT RELATION SUBJECT.
    Set {
        /// `type:id`.
        object: String,
        /// Relation name.
        relation: String,
        /// `type:id` or `type:id#relation`.
        subject: String,
    },
    /// Remove a relation: OBJECT RELATION SUBJECT.
    Delete {
        /// `type:id`.
        object: String,
        /// Relation name.
        relation: String,
        /// `type:id` or `type:id#relation`.
        subject: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let command = match cli.command {
        Command::Run {
            config,
            demo,
            cerbos_config,
            set,
            follow,
        } => {
            let cerbos = cerbos_config.map(|file| serve::CerbosFlags {
                file,
                overrides: set,
            });
            return serve::run(cli.data_dir, cli.store, config, demo, cerbos, follow)
                .map(|()| ExitCode::SUCCESS);
        }
        Command::Certs(CertsCommand::Generate { force }) => {
            let dir = cli
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            let paths = lictor_server::tls::generate(&dir.join("certs"), force)?;
            println!(
                "CA {}\ncertificate {}\nkey {}",
                paths.ca.display(),
                paths.cert.display(),
                paths.key.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Decisions(DecisionsCommand::Tail {
            address,
            from,
            instance,
            api_key,
            ca_cert,
        }) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let printed = runtime.block_on(lictor_server::decision_service::tail(
                &address,
                ca_cert.as_deref(),
                from,
                instance,
                api_key,
                |json| {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{json}")?;
                    out.flush()
                },
            ));
            printed.map_err(|e| anyhow::anyhow!("following decisions at {address}: {e}"))?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Policy(command) => {
            let data_dir = cli
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            let mut out = BufWriter::new(std::io::stdout().lock());
            policy_images::run(command, &data_dir, &mut out)?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Test(options) => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let code = policy_tests::run(&options, &mut out)?;
            out.flush()?;
            return Ok(code);
        }
        Command::Cerbos(CerbosCommand::Compile { dir, skip_tests }) => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let code = cerbos_compile::run(&dir, skip_tests, &mut out)?;
            out.flush()?;
            return Ok(code);
        }
        command => command,
    };
    let data_dir = cli
        .data_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let store = match &cli.store {
        Some(location) => Store::open_at(&StoreLocation::parse(location))
            .with_context(|| format!("opening store {location}"))?,
        None => Store::open(&data_dir)
            .with_context(|| format!("opening data directory {}", data_dir.display()))?,
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    match command {
        Command::Model(ModelCommand::Set { file }) => {
            let source = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let revision = store.set_manifest(&file.display().to_string(), &source)?;
            writeln!(out, "manifest set (revision {revision})")?;
        }
        Command::Model(ModelCommand::Get) => match store.manifest_source() {
            Some(source) => write!(out, "{source}")?,
            None => bail!("no manifest has been set"),
        },
        Command::Import { file } => import(&store, &file, &mut out)?,
        Command::Load(LoadCommand::Json {
            file,
            source,
            dry_run,
        }) => {
            let state = sync_state(&data_dir, &source)?;
            let report = if file == Path::new("-") {
                store.sync(&state, std::io::stdin().lock(), dry_run)
            } else {
                let reader = BufReader::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("opening {}", file.display()))?,
                );
                store.sync(&state, reader, dry_run)
            }
            .with_context(|| format!("loading {}", file.display()))?;
            print_sync(&report, dry_run, &mut out)?;
        }
        Command::Load(LoadCommand::Ldap {
            url,
            starttls,
            ca_cert,
            base_dn,
            bind_dn,
            user_filter,
            group_filter,
            user_id,
            source,
            dry_run,
        }) => {
            let state = sync_state(&data_dir, &source)?;
            let password = match &bind_dn {
                Some(_) => {
                    let mut password = String::new();
                    std::io::stdin()
                        .read_line(&mut password)
                        .context("reading the bind password from standard input")?;
                    Some(password.trim_end_matches(['\n', '\r']).to_string())
                }
                None => None,
            };
            let settings = lictor_server::config::LdapSettings {
                url: url.clone(),
                starttls,
                ca_cert,
                bind_dn,
                base_dn,
                user_filter,
                group_filter,
                user_id,
                ..Default::default()
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let records = runtime
                .block_on(lictor_server::idp_ldap::read(
                    &settings,
                    password.as_deref(),
                ))
                .map_err(anyhow::Error::msg)?;
            let report = store
                .sync(&state, records.as_bytes(), dry_run)
                .with_context(|| format!("loading {url}"))?;
            print_sync(&report, dry_run, &mut out)?;
        }
        Command::Export { output } => match output {
            Some(path) => {
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                let mut writer = BufWriter::new(file);
                store.export(&mut writer)?;
                writer.flush()?;
                writer.into_inner()?.sync_all()?;
            }
            None => {
                store.export(&mut out)?;
            }
        },
        Command::Check {
            subject,
            permission,
            object,
            explain,
            json,
        } => {
            return check(
                &store,
                &subject,
                &permission,
                &object,
                explain,
                json,
                &mut out,
            )
        }
        Command::LookupObjects {
            subject,
            permission,
            object_type,
            page,
        } => {
            let subject = parse_ref(&subject, "subject")?;
            let request = LookupObjectsRequest {
                subject_type: &subject.object_type,
                subject_id: &subject.object_id,
                subject_relation: &subject.relation,
                permission: &permission,
                object_type: &object_type,
            };
            let found = store.snapshot().lookup_objects(&request, page.page())?;
            for id in &found.ids {
                writeln!(out, "{object_type}:{id}")?;
            }
            if let Some(next) = found.next {
                eprintln!("more results: pass --after {next}");
            }
        }
        Command::LookupSubjects {
            object,
            permission,
            subject_type,
            page,
        } => {
            let object = parse_ref(&object, "object")?;
            let (subject_type, subject_relation) = match subject_type.split_once('#') {
                Some((ty, rel)) => (ty.to_string(), rel.to_string()),
                None => (subject_type, String::new()),
            };
            let request = LookupSubjectsRequest {
                object_type: &object.object_type,
                object_id: &object.object_id,
                permission: &permission,
                subject_type: &subject_type,
                subject_relation: &subject_relation,
            };
            let found = store.snapshot().lookup_subjects(&request, page.page())?;
            let suffix = if subject_relation.is_empty() {
                String::new()
            } else {
                format!("#{subject_relation}")
            };
            for id in &found.page.ids {
                writeln!(out, "{subject_type}:{id}{suffix}")?;
            }
            if !found.excluded.is_empty() {
                writeln!(out, "except: {}", found.excluded.join(", "))?;
            }
            if let Some(next) = found.page.next {
                eprintln!("more results: pass --after {next}");
            }
        }
        Command::Object(command) => object_command(&store, command, &mut out)?,
        Command::Relation(command) => relation_command(&store, command, &mut out)?,
        Command::Demo => demo(&store, &mut out)?,
        Command::Run { .. }
        | Command::Certs(_)
        | Command::Cerbos(_)
        | Command::Decisions(_)
        | Command::Test(_)
        | Command::Policy(_) => {}
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

impl PageArgs {
    fn page(&self) -> Page<'_> {
        Page {
            size: self.page_size,
            after: self.after.as_deref(),
        }
    }
}

fn parse_ref(text: &str, what: &str) -> Result<SubjectRef> {
    SubjectRef::parse(text).map_err(|message| anyhow::anyhow!("{what}: {message}"))
}

fn parse_object(text: &str) -> Result<SubjectRef> {
    let object = parse_ref(text, "object")?;
    if !object.relation.is_empty() {
        bail!("object `{text}` must be type:id, without #relation");
    }
    Ok(object)
}

fn check(
    store: &Store,
    subject: &str,
    permission: &str,
    object: &str,
    explain: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let subject = parse_ref(subject, "subject")?;
    let object = parse_object(object)?;
    let request = CheckRequest {
        object_type: &object.object_type,
        object_id: &object.object_id,
        relation: permission,
        subject_type: &subject.object_type,
        subject_id: &subject.object_id,
        subject_relation: &subject.relation,
    };
    let snapshot = store.snapshot();
    let allowed = if explain {
        let explanation = snapshot.explain(&request)?;
        if json {
            serde_json::to_writer_pretty(&mut *out, &explanation)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", verdict(explanation.allowed))?;
            match &explanation.trace {
                Some(trace) => write!(out, "{trace}")?,
                None => writeln!(out, "object {object} is not in the directory")?,
            }
        }
        explanation.allowed
    } else {
        let allowed = snapshot.check(&request)?;
        if json {
            writeln!(out, "{}", serde_json::json!({ "allowed": allowed }))?;
        } else {
            writeln!(out, "{}", verdict(allowed))?;
        }
        allowed
    };
    out.flush()?;
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verdict(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "denied"
    }
}

fn import(store: &Store, file: &Path, out: &mut impl Write) -> Result<()> {
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let handle =
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, handle))
    };
    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        progress.set_draw_target(ProgressDrawTarget::hidden());
    }
    progress.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} records imported ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let summary = store
        .import(reader, |count| {
            if count % 4096 == 0 {
                progress.set_position(count);
            }
        })
        .with_context(|| format!("importing {} (nothing was imported)", file.display()))?;
    progress.finish_and_clear();
    writeln!(
        out,
        "imported {} objects and {} relations (revision {})",
        summary.objects, summary.relations, summary.revision
    )?;
    Ok(())
}

fn object_command(store: &Store, command: ObjectCommand, out: &mut impl Write) -> Result<()> {
    match command {
        ObjectCommand::Set {
            object,
            display_name,
            properties,
            etag,
        } => {
            let object = parse_object(&object)?;
            let properties: serde_json::Value =
                serde_json::from_str(&properties).context("--properties is not valid JSON")?;
            let record = ObjectRecord {
                object_type: object.object_type,
                id: object.object_id,
                display_name,
                properties,
                etag: etag.unwrap_or_default(),
            };
            let (stored, revision) = store.set_object(&record)?;
            writeln!(out, "etag {} (revision {revision})", stored.etag)?;
        }
        ObjectCommand::Get { object } => {
            let object = parse_object(&object)?;
            let Some(record) = store
                .snapshot()
                .get_object(&object.object_type, &object.object_id)
            else {
                bail!("object {object} not found");
            };
            serde_json::to_writer_pretty(&mut *out, &record)?;
            writeln!(out)?;
        }
        ObjectCommand::Delete {
            object,
            with_relations,
        } => {
            let object = parse_object(&object)?;
            let (deleted, revision) =
                store.delete_object(&object.object_type, &object.object_id, with_relations)?;
            if !deleted {
                bail!("object {object} not found");
            }
            writeln!(out, "deleted (revision {revision})")?;
        }
    }
    Ok(())
}

fn relation_record(object: &str, relation: &str, subject: &str) -> Result<RelationRecord> {
    let object = parse_object(object)?;
    let subject = parse_ref(subject, "subject")?;
    Ok(RelationRecord {
        object_type: object.object_type,
        object_id: object.object_id,
        relation: relation.to_string(),
        subject_type: subject.object_type,
        subject_id: subject.object_id,
        subject_relation: subject.relation,
    })
}

fn relation_command(store: &Store, command: RelationCommand, out: &mut impl Write) -> Result<()> {
    match command {
        RelationCommand::Set {
            object,
            relation,
            subject,
        } => {
            let record = relation_record(&object, &relation, &subject)?;
            let revision = store.set_relation(&record, None)?;
            writeln!(out, "ok (revision {revision})")?;
        }
        RelationCommand::Delete {
            object,
            relation,
            subject,
        } => {
            let record = relation_record(&object, &relation, &subject)?;
            let (deleted, revision) = store.delete_relation(&record)?;
            if !deleted {
                bail!("relation {record} not found");
            }
            writeln!(out, "deleted (revision {revision})")?;
        }
    }
    Ok(())
}

/// Where the embedded store lives unless told otherwise.
const DEFAULT_DATA_DIR: &str = "lictor-data";

/// The demo data set, compiled into the binary so `lictor demo` works from any directory.
const DEMO_MANIFEST: &str = include_str!("../../../examples/demo/manifest.yaml");
const DEMO_FILES: [(&str, &str); 5] = [
    (
        "citadel_objects.json",
        include_str!("../../../examples/demo/citadel_objects.json"),
    ),
    (
        "citadel_relations.json",
        include_str!("../../../examples/demo/citadel_relations.json"),
    ),
    (
        "todo_objects.json",
        include_str!("../../../examples/demo/todo_objects.json"),
    ),
    (
        "todo_relations.json",
        include_str!("../../../examples/demo/todo_relations.json"),
    ),
    (
        "records_objects.json",
        include_str!("../../../examples/demo/records_objects.json"),
    ),
];

/// How `lictor run --demo` decides AuthZEN requests (its `authzen` section).
const DEMO_AUTHZEN: &str = include_str!("../../../examples/demo/authzen.yaml");

/// The demo's policies, written into the data directory by `lictor run --demo`.
const DEMO_POLICIES: [(&str, &str); 9] = [
    (
        "rebac.rego",
        include_str!("../../../examples/demo/policies/rebac.rego"),
    ),
    (
        "todoApp.common.rego",
        include_str!("../../../examples/demo/policies/todoApp.common.rego"),
    ),
    (
        "todoApp.GET.todos.rego",
        include_str!("../../../examples/demo/policies/todoApp.GET.todos.rego"),
    ),
    (
        "todoApp.POST.todos.rego",
        include_str!("../../../examples/demo/policies/todoApp.POST.todos.rego"),
    ),
    (
        "todoApp.PUT.todos.__id.rego",
        include_str!("../../../examples/demo/policies/todoApp.PUT.todos.__id.rego"),
    ),
    (
        "todoApp.DELETE.todos.__id.rego",
        include_str!("../../../examples/demo/policies/todoApp.DELETE.todos.__id.rego"),
    ),
    (
        "authzen.todo.rego",
        include_str!("../../../examples/demo/policies/authzen.todo.rego"),
    ),
    (
        "records.authzen.rego",
        include_str!("../../../examples/demo/policies/records.authzen.rego"),
    ),
    (
        "authzen.gateway.rego",
        include_str!("../../../examples/demo/policies/authzen.gateway.rego"),
    ),
];

/// The demo's Cerbos policies (a resource policy and derived roles for the todo app).
const DEMO_CERBOS_POLICIES: [(&str, &str); 3] = [
    (
        "todo.yaml",
        include_str!("../../../examples/demo/cerbos/todo.yaml"),
    ),
    (
        "todo_roles.yaml",
        include_str!("../../../examples/demo/cerbos/todo_roles.yaml"),
    ),
    (
        "record.yaml",
        include_str!("../../../examples/demo/cerbos/record.yaml"),
    ),
];

/// Writes the demo's Cerbos policies into `dir` and returns it.
fn write_demo_cerbos_policies(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, content) in DEMO_CERBOS_POLICIES {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir.to_path_buf())
}

/// Writes the demo's policies into `dir` (replacing earlier copies) and returns it.
fn write_demo_policies(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, content) in DEMO_POLICIES {
        let path = dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir.to_path_buf())
}

/// Where a source's sync state is kept; the name is checked, as it becomes a file name.
fn sync_state(data_dir: &Path, source: &str) -> Result<PathBuf> {
    if source.is_empty()
        || !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--source {source:?}: use letters, digits, '-' and '_'");
    }
    Ok(data_dir.join("sync").join(format!("{source}.json")))
}

/// One run of a source's sync, reported: every change in a dry run, the counts always.
fn print_sync(
    report: &lictor_store::SyncReport,
    dry_run: bool,
    out: &mut impl Write,
) -> Result<()> {
    if dry_run {
        for change in &report.changes {
            writeln!(out, "{change}")?;
        }
    }
    let [created, updated, removed, linked, unlinked] = report.counts();
    writeln!(
        out,
        "{}objects: {created} created, {updated} updated, {removed} removed; relations: {linked} created, {unlinked} removed; {} unchanged{}",
        if dry_run { "would change " } else { "" },
        report.unchanged,
        report
            .revision
            .map(|r| format!(" (revision {r})"))
            .unwrap_or_default()
    )?;
    Ok(())
}

/// Loads the demo manifest and data into a store.
fn load_demo(store: &Store, out: &mut impl Write) -> Result<()> {
    store.set_manifest("examples/demo/manifest.yaml", DEMO_MANIFEST)?;
    for (name, content) in DEMO_FILES {
        let summary = store
            .import(content.as_bytes(), |_| {})
            .with_context(|| format!("importing demo file {name}"))?;
        writeln!(
            out,
            "{name}: {} objects, {} relations",
            summary.objects, summary.relations
        )?;
    }
    Ok(())
}

fn demo(store: &Store, out: &mut impl Write) -> Result<()> {
    load_demo(store, out)?;
    let snapshot = store.snapshot();
    writeln!(
        out,
        "demo loaded into {} objects and {} relations (revision {})",
        snapshot.object_count(),
        snapshot.relation_count(),
        snapshot.revision()
    )?;
    for (subject, permission, object) in [
        ("user:rick@the-citadel.com", "member", "group:admin"),
        (
            "user:morty@the-citadel.com",
            "can_create_resource",
            "resource-creator:resource-creators",
        ),
        (
            "user:jerry@the-smiths.com",
            "can_create_resource",
            "resource-creator:resource-creators",
        ),
    ] {
        let subject = parse_ref(subject, "subject")?;
        let object = parse_object(object)?;
        let allowed = snapshot.check(&CheckRequest {
            object_type: &object.object_type,
            object_id: &object.object_id,
            relation: permission,
            subject_type: &subject.object_type,
            subject_id: &subject.object_id,
            subject_relation: "",
        })?;
        writeln!(
            out,
            "check {subject} {permission} {object}: {}",
            verdict(allowed)
        )?;
    }
    Ok(())
}
