//! One module per fuzz target: `run` takes libFuzzer's raw input and panics on a finding.

pub mod cerbos_check;
pub mod cerbos_policy;
pub mod import_records;
pub mod jwt;
pub mod manifest;
pub mod rego_input;
pub mod rest_body;

/// Reads libFuzzer's raw input as a typed target's input, as `fuzz_target!` does for a typed closure
/// (input shorter than the type's least size, or not decodable, is skipped), and checks it.
fn typed<T: for<'a> arbitrary::Arbitrary<'a>>(data: &[u8], check: fn(T)) {
    if data.len() < T::size_hint(0).0 {
        return;
    }
    if let Ok(input) = T::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        check(input);
    }
}
