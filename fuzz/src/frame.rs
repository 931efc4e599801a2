//! `decode_frame`: arbitrary bytes into the frame decoders.
//!
//! - `ServerFrame::decode` answers a frame or a typed `FrameError` (never a panic); a frame
//!   passes `validate`, and its encoding decodes to the same frame. The same for
//!   `ClientFrame::decode` (the server's side, also the simulator's).
//! - An error is consistent with the bytes: `TooLarge` exactly when they exceed the limit.
//! - `Sdk::handle_bytes` in a few states (uninitialised, initialising, ready with a session
//!   and presence, terminated) does exactly what `handle_input(Frame(decoded))` does, and
//!   refuses bytes that do not decode, leaving the state as it was (`INV-REFUSED-UNCHANGED`,
//!   `oracle::machine::refused_unchanged`).

use crate::report::Failure;
use cobrowse_visitor_conformance::oracle::machine;
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::{ApiCall, InitParams, StartKey};
use cobrowse_visitor_core::{ClientFrame, FrameError, ServerFrame, MAX_FRAME_BYTES};
use cobrowse_visitor_core::{Error, ProtocolError};
use cobrowse_visitor_core::{Input, Lifecycle, Output, Sdk};
use std::sync::LazyLock;

const TARGET: &str = "decode_frame";

fn drained(mut sdk: Sdk) -> Sdk {
    while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    sdk
}

/// SDK cores in a few states, built once by driving the public API.
static CORES: LazyLock<Vec<(&'static str, Sdk)>> = LazyLock::new(|| {
    let at = Instant::from_millis;
    let feed = |sdk: &mut Sdk, t: u64, input: Input| {
        let _ = sdk.handle_input(at(t), input);
        while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    };
    let frame = |json: &str| {
        Input::Frame(ServerFrame::decode(json.as_bytes()).unwrap_or(ServerFrame::PresenceBlur {}))
    };
    let uninitialized = Sdk::default();
    let mut initializing = Sdk::default();
    feed(
        &mut initializing,
        0,
        Input::Api(ApiCall::InitVisitor(InitParams::identified(
            19921, "cust-42",
        ))),
    );
    let mut ready = initializing.clone();
    feed(
        &mut ready,
        10,
        frame(r#"{"type":"settings","v":1,"key_length":4}"#),
    );
    feed(&mut ready, 20, Input::Api(ApiCall::presence_connect()));
    feed(&mut ready, 30, frame(r#"{"type":"presence_connected"}"#));
    feed(
        &mut ready,
        40,
        frame(r#"{"type":"presence_show_terms","request_id":7}"#),
    );
    feed(
        &mut ready,
        50,
        Input::Api(ApiCall::start_session(StartKey::Random)),
    );
    let mut running = ready.clone();
    feed(
        &mut running,
        60,
        frame(r#"{"type":"session_started","sessionkey":"1234"}"#),
    );
    let mut terminated = running.clone();
    feed(&mut terminated, 70, Input::Lifecycle(Lifecycle::Terminate));
    vec![
        ("uninitialized", drained(uninitialized)),
        ("initializing", drained(initializing)),
        ("ready, session starting, terms shown", drained(ready)),
        ("ready, session running", drained(running)),
        ("terminated", drained(terminated)),
    ]
});

/// Judges one input; `Err` is the finding, ready to print.
pub fn run(data: &[u8]) -> Result<(), Failure> {
    let fail = |headline: String| {
        Failure::new(TARGET, headline).section(
            "the bytes",
            format!(
                "{} bytes: {:?}",
                data.len(),
                String::from_utf8_lossy(&data[..data.len().min(4096)])
            ),
        )
    };
    let decoded = ServerFrame::decode(data);
    match &decoded {
        Ok(frame) => {
            if let Err(e) = frame.validate() {
                return Err(fail(format!(
                    "decoded {frame:?}, which does not validate: {e}"
                )));
            }
            let encoded = frame.encode();
            let again = ServerFrame::decode(&encoded);
            if again.as_ref() != Ok(frame) {
                return Err(fail(format!(
                    "decoded {frame:?}, encoded as {:?}, which decodes as {again:?}",
                    String::from_utf8_lossy(&encoded)
                )));
            }
        }
        Err(e) => consistent(data, e).map_err(fail)?,
    }
    match ClientFrame::decode(data) {
        Ok(frame) => {
            let encoded = frame.encode();
            let again = ClientFrame::decode(&encoded);
            if again.as_ref() != Ok(&frame) {
                return Err(fail(format!(
                    "decoded client frame {frame:?}, encoded as {:?}, which decodes as {again:?}",
                    String::from_utf8_lossy(&encoded)
                )));
            }
        }
        Err(e) => consistent(data, &e).map_err(fail)?,
    }
    for (name, core) in CORES.iter() {
        let now = core.state().now;
        let mut by_bytes = core.clone();
        let result = by_bytes.handle_bytes(now, data);
        if let Some(v) = machine::refused_unchanged(core.state(), by_bytes.state(), &result) {
            return Err(fail(format!(
                "{}: {} (core {name})",
                v.invariant.id(),
                v.message
            )));
        }
        match &decoded {
            Err(e) => {
                let expected = Err(Error::Protocol(ProtocolError::Frame(e.clone())));
                if result != expected {
                    return Err(fail(format!(
                        "core {name}: handle_bytes gave {result:?} for bytes that decode to {e:?}"
                    )));
                }
            }
            Ok(frame) => {
                let mut by_frame = core.clone();
                let expected = by_frame.handle_input(now, Input::Frame(frame.clone()));
                if result != expected || by_bytes.state() != by_frame.state() {
                    return Err(fail(format!(
                        "core {name}: handle_bytes and handle_input(Frame) differ on {frame:?}"
                    )));
                }
                loop {
                    let (a, b) = (by_bytes.poll_output(), by_frame.poll_output());
                    if a != b {
                        return Err(fail(format!(
                            "core {name}: handle_bytes output {a:?}, handle_input(Frame) {b:?}"
                        )));
                    }
                    if matches!(a, Output::Timeout(_)) {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

fn consistent(data: &[u8], e: &FrameError) -> Result<(), String> {
    let too_large = data.len() > MAX_FRAME_BYTES;
    let says_too_large = matches!(e, FrameError::TooLarge { len, max } if *len == data.len() && *max == MAX_FRAME_BYTES);
    if too_large != says_too_large {
        return Err(format!(
            "{} bytes (limit {MAX_FRAME_BYTES}) refused with {e:?}",
            data.len()
        ));
    }
    if e.to_string().is_empty() {
        return Err(format!("{e:?} has no message"));
    }
    Ok(())
}
