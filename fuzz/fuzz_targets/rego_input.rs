//! The `rego_input` fuzz target: its input and checks are in `lictor_fuzz::targets::rego_input`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lictor_fuzz::targets::rego_input::run(data));
