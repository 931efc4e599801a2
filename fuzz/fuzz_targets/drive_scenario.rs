//! Arbitrary contract scenarios through the simulator; the transcript, read back through the
//! contract format, checked by the oracle. See `cobrowse_fuzz::scenario` and
//! `cobrowse_fuzz::DRIVE_SCENARIO_CHECKS` for the IDs it checks.
#![no_main]

use cobrowse_fuzz::scenario::{run, FuzzScenario};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = run(&FuzzScenario::read(data)) {
        panic!("{failure}");
    }
});
