//! The `cerbos_policy` fuzz target: its input and checks are in `lictor_fuzz::targets::cerbos_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lictor_fuzz::targets::cerbos_policy::run(data));
