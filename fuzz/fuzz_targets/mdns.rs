#![no_main]
//! libFuzzer wrapper; the body is `vendorwatch_fuzz::mdns` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| vendorwatch_fuzz::mdns(data));
