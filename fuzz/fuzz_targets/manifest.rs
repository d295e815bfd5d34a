//! The `manifest` fuzz target: its input and checks are in `lictor_fuzz::targets::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lictor_fuzz::targets::manifest::run(data));
