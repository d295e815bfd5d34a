//! The `rest_body` fuzz target: its input and checks are in `lictor_fuzz::targets::rest_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lictor_fuzz::targets::rest_body::run(data));
