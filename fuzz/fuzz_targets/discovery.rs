#![no_main]
//! libFuzzer wrapper; the body is `vendorwatch_fuzz::discovery` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendorwatch_fuzz::discovery(data));
