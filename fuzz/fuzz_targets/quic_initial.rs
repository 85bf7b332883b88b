#![no_main]
//! libFuzzer wrapper; the body is `vendorwatch_fuzz::quic_initial` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendorwatch_fuzz::quic_initial(data));
