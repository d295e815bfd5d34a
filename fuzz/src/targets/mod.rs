//! One module per fuzz target: `run` takes libFuzzer's raw input and panics on a finding.

pub mod cerbos_check;
pub mod cerbos_policy;
pub mod import_records;
pub mod jwt;
pub mod manifest;
pub mod rego_input;
pub mod rest_body;
