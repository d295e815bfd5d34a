//! The `import` fuzz target: its input and checks are in `lictor_fuzz::targets::import_records`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lictor_fuzz::targets::import_records::run(data));
