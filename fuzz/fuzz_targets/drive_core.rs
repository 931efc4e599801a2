//! A structure-aware op sequence into the SDK core and the integration controller, with the
//! oracle after every step and the machine-level checks after every input. See
//! `cobrowse_fuzz::drive` and `cobrowse_fuzz::DRIVE_CORE_CHECKS` for the IDs it checks.
#![no_main]

use cobrowse_fuzz::drive::{run, CoreInput};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = run(&CoreInput::read(data)) {
        panic!("{failure}");
    }
});
