#![no_main]
//! libFuzzer wrapper; the body is `vendorwatch_fuzz::signatures` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendorwatch_fuzz::signatures(data));
