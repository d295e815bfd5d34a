//! Every fuzz target on the stable toolchain, in the test command: first every committed corpus input
//! (`fuzz/corpus/<target>/`), so that an input once found by fuzzing stays checked; then a short
//! smoke run of inputs mutated from the corpus (bit flips, inserted, removed and repeated bytes,
//! splices of two inputs), from a fixed seed, for `FUZZ_SMOKE_SECONDS` (default 3) per target.
//! The mutation run is not coverage-guided: finding inputs deep in the code is the job of cargo fuzz
//! (`scripts/fuzz-smoke.sh` and the long runs in docs/fuzzing.md), whose instrumented build is too slow
//! for the test command.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

/// The committed inputs of a target, in file-name order.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{} holds no input", dir.display());
    entries
        .iter()
        .map(|path| (path.display().to_string(), std::fs::read(path).unwrap()))
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) {
    let mut failed = Vec::new();
    for (path, input) in corpus(target) {
        if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
            failed.push(path);
        }
    }
    assert!(failed.is_empty(), "{target} failed on {failed:#?}");
}

/// Bytes that open, close or break JSON, YAML, Rego and JWT text.
const SYNTAX: [u8; 11] = [
    b'{', b'}', b'[', b']', b'"', b':', b',', b'\\', b'\n', 0, 0xff,
];

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs everywhere.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to four mutations of `input`, some splicing in part of `other`.
    fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 => {
                    let byte = SYNTAX[self.below(SYNTAX.len())];
                    out.insert(at, byte);
                }
                2 if !out.is_empty() => {
                    let start = at.min(out.len() - 1);
                    let end = (start + 1 + self.below(16)).min(out.len());
                    out.drain(start..end);
                }
                3 if !out.is_empty() => {
                    let start = self.below(out.len());
                    let end = (start + 1 + self.below(32)).min(out.len());
                    let piece = out[start..end].to_vec();
                    out.splice(at..at, piece);
                }
                4 if !other.is_empty() => {
                    let start = self.below(other.len());
                    out.truncate(at);
                    out.extend_from_slice(&other[start..]);
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

fn smoke(target: &str, run: fn(&[u8])) {
    let seconds: u64 = std::env::var("FUZZ_SMOKE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let inputs = corpus(target);
    let mut mutator = Mutator(20_261_201);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while runs == 0 || Instant::now() < until {
        let (_, input) = &inputs[mutator.below(inputs.len())];
        let (_, other) = &inputs[mutator.below(inputs.len())];
        let mutated = mutator.mutate(input, other);
        if catch_unwind(AssertUnwindSafe(|| run(&mutated))).is_err() {
            panic!(
                "{target} failed on a mutated input (run {runs}); add it to fuzz/corpus/{target}/ \
                 once fixed: {:?}",
                String::from_utf8_lossy(&mutated)
            );
        }
        runs += 1;
    }
    eprintln!("{target}: {runs} mutated inputs in {seconds} s");
}

macro_rules! target_tests {
    ($($test:ident: $name:literal => $module:ident),* $(,)?) => {$(
        #[test]
        fn $test() {
            replay($name, lictor_fuzz::targets::$module::run);
            smoke($name, lictor_fuzz::targets::$module::run);
        }
    )*};
}

target_tests! {
    manifest_corpus: "manifest" => manifest,
    import_corpus: "import" => import_records,
    rest_body_corpus: "rest_body" => rest_body,
    rego_input_corpus: "rego_input" => rego_input,
    jwt_corpus: "jwt" => jwt,
    cerbos_policy_corpus: "cerbos_policy" => cerbos_policy,
    cerbos_check_corpus: "cerbos_check" => cerbos_check,
}

/// Both runs must be able to fail: a failing input is reported with its file, or its bytes.
#[test]
fn a_failing_input_is_reported() {
    let outcome = catch_unwind(|| replay("jwt", |_| panic!("planted failure")));
    let message = outcome.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("jwt failed on") && message.contains("corpus/jwt/"),
        "{message}"
    );
    let outcome = catch_unwind(|| {
        smoke("manifest", |input| {
            assert!(!input.contains(&0xff), "planted failure")
        })
    });
    let message = outcome.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("manifest failed on a mutated input"),
        "{message}"
    );
}

/// Mutations change inputs, and the same seed gives the same ones.
#[test]
fn mutations_are_repeatable() {
    let input = br#"{"objects": [{"type": "user", "id": "rick"}]}"#;
    let draw = || {
        let mut mutator = Mutator(7);
        (0..50)
            .map(|_| mutator.mutate(input, b"other"))
            .collect::<Vec<_>>()
    };
    let first = draw();
    assert_eq!(first, draw());
    assert!(first.iter().filter(|m| m.as_slice() != input).count() > 40);
}
