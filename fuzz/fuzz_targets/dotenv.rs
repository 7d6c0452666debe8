#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawkeep::fuzzing::dotenv(data));
