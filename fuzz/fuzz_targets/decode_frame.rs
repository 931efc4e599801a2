//! Arbitrary bytes into the server-frame decoder (and the client-frame one, and
//! `Sdk::handle_bytes`): only a frame or a typed error; what decodes re-encodes to itself.
//! See `cobrowse_fuzz::frame`. Checks: INV-REFUSED-UNCHANGED.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = cobrowse_fuzz::frame::run(data) {
        panic!("{failure}");
    }
});
