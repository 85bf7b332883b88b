#![no_main]
//! libFuzzer wrapper; the body is `vendorwatch_fuzz::capture_reader` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendorwatch_fuzz::capture_reader(data));
