//! JSON Lines and Topaz JSON import: parsing alone, then the real import into a store holding the
//! demo manifest. Parsing and import must agree; every record read must write back as a line that
//! reads back unchanged; every error must name a line of the input.

use lictor_store::{read_import, write_object_line, write_relation_line, ImportRecord};
use lictor_store::{Store, StoreError};
use std::sync::Mutex;

const DEMO_MANIFEST: &str = include_str!("../../../examples/demo/manifest.yaml");

/// Successful imports before the store is replaced by a fresh one, so that it stays small.
const IMPORTS_PER_STORE: u32 = 256;

struct Target {
    store: Store,
    imports: u32,
    _dir: tempfile::TempDir,
}

impl Target {
    fn new() -> Target {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let store = Store::open(dir.path()).expect("store");
        store
            .set_manifest("manifest.yaml", DEMO_MANIFEST)
            .expect("demo manifest");
        Target {
            store,
            imports: 0,
            _dir: dir,
        }
    }
}

static TARGET: Mutex<Option<Target>> = Mutex::new(None);

/// The line an error names, if it is one that must name a line.
fn error_line(error: &StoreError) -> Option<usize> {
    match error {
        StoreError::Parse { line, .. } | StoreError::ImportRejected { line, .. } => Some(*line),
        _ => None,
    }
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    // A record can open on the line after the last newline.
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    let mut records = Vec::new();
    let parsed = read_import(data, |item| {
        assert!(
            (1..=lines).contains(&item.line),
            "record at line {} of {lines}",
            item.line
        );
        records.push(item.record);
        Ok(())
    });
    match &parsed {
        Ok(count) => assert_eq!(*count, records.len() as u64),
        Err(error) => {
            let line =
                error_line(error).unwrap_or_else(|| panic!("an error naming no line: {error}"));
            assert!(
                (1..=lines).contains(&line),
                "error at line {line} of {lines}: {error}"
            );
        }
    }

    // What was read writes back as JSON Lines that read back the same.
    let mut written = Vec::new();
    for record in &records {
        match record {
            ImportRecord::Object(object) => write_object_line(&mut written, object),
            ImportRecord::Relation(relation) => write_relation_line(&mut written, relation),
        }
        .expect("writing to memory");
    }
    let mut reread = Vec::new();
    read_import(written.as_slice(), |item| {
        reread.push(item.record);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("written records do not read back: {e}"));
    assert_eq!(records, reread, "records changed through write and read");

    let mut guard = TARGET.lock().unwrap_or_else(|p| p.into_inner());
    let target = guard.get_or_insert_with(Target::new);
    let before = target.store.revision();
    match (target.store.import(data, |_| {}), parsed) {
        (Ok(summary), Ok(count)) => {
            assert_eq!(summary.objects + summary.relations, count);
            assert!(summary.revision > before);
            let snapshot = target.store.snapshot();
            for record in &records {
                if let ImportRecord::Object(object) = record {
                    assert!(
                        snapshot
                            .get_object(&object.object_type, &object.id)
                            .is_some(),
                        "imported object {}:{} is missing",
                        object.object_type,
                        object.id
                    );
                }
            }
            target.imports += 1;
        }
        (Ok(_), Err(error)) => panic!("imported what does not parse: {error}"),
        (Err(error), parsed) => {
            assert_eq!(
                target.store.revision(),
                before,
                "a failed import changed the store"
            );
            // The import stops at the parse error, or earlier at a record the manifest refuses.
            if let Err(parse_error) = parsed {
                if error.to_string() != parse_error.to_string() {
                    assert!(
                        matches!(
                            error,
                            StoreError::ImportRejected { .. } | StoreError::Nul { .. }
                        ),
                        "import failed with {error} where parsing failed with {parse_error}"
                    );
                }
            }
            if let Some(line) = error_line(&error) {
                assert!(
                    (1..=lines).contains(&line),
                    "error at line {line} of {lines}: {error}"
                );
            }
        }
    }
    if target.imports >= IMPORTS_PER_STORE {
        *target = Target::new();
    }
}
