#![no_main]
// The check lives in the harness crate, shared with the corpus replay test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| dmc_fuzz_harness::signmsg(data));
