//! Frame encode and decode, each beside bare `serde_json` on the same bytes and type.
//!
//! `server_decode/<frame>/decode` is [`ServerFrame::decode`] (size check, serde, range
//! validation); `server_decode/<frame>/serde` is `serde_json::from_slice::<ServerFrame>` on
//! the same bytes, without the checks. Encode is [`ClientFrame::encode`] beside
//! `serde_json::to_vec` of the same value.
//!
//! `cargo bench --bench frames`

use cobrowse_visitor_core::{ClientFrame, ServerFrame};
use divan::counter::BytesCount;
use divan::{black_box, AllocProfiler, Bencher};
use std::collections::BTreeMap;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Server frames as they arrive, one per kind the SDK core sees in a session.
fn server_bytes(kind: &str) -> &'static [u8] {
    match kind {
        "settings" => br#"{"type":"settings","v":1,"key_length":4}"#,
        "session_started" => br#"{"type":"session_started","sessionkey":"4821"}"#,
        "guest_count" => br#"{"type":"guest_count","guestcount":2}"#,
        "session_ended" => br#"{"type":"session_ended","reason":"agent_ended"}"#,
        "presence_show_terms" => br#"{"type":"presence_show_terms","request_id":7}"#,
        _ => br#"{"type":"presence_blur"}"#,
    }
}

/// Client frames the SDK core sends.
const CLIENT: &[&str] = &[
    "init",
    "start_session",
    "app_state",
    "presence_signal",
    "resume_session",
];

fn client_frame(kind: &str) -> ClientFrame {
    match kind {
        "init" => ClientFrame::Init {
            v: 1,
            group_id: 19921,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: Some("cust-42".into()),
        },
        "start_session" => ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        },
        "app_state" => ClientFrame::AppState { foreground: false },
        "presence_signal" => ClientFrame::PresenceSignal {
            event: "terms".into(),
            map: BTreeMap::from([("status".to_owned(), "displayed".to_owned())]),
            request_id: Some(7),
        },
        _ => ClientFrame::ResumeSession {
            sessionkey: "4821".into(),
        },
    }
}

/// `decode` is `ServerFrame::decode` (serde plus every check), `serde` bare
/// `serde_json::from_slice::<ServerFrame>` on the same bytes; the two run back to back, so a
/// change in the machine's load touches both alike.
macro_rules! server_decode {
    ($($frame:ident),*) => {
        mod server_decode {
            $(
                mod $frame {
                    use super::super::*;

                    #[divan::bench]
                    fn decode(bencher: Bencher) {
                        let bytes = server_bytes(stringify!($frame));
                        bencher
                            .counter(BytesCount::of_slice(bytes))
                            .bench_local(|| ServerFrame::decode(black_box(bytes)));
                    }

                    #[divan::bench]
                    fn serde(bencher: Bencher) {
                        let bytes = server_bytes(stringify!($frame));
                        bencher
                            .counter(BytesCount::of_slice(bytes))
                            .bench_local(|| serde_json::from_slice::<ServerFrame>(black_box(bytes)));
                    }
                }
            )*
        }
    };
}

server_decode!(
    settings,
    session_started,
    guest_count,
    session_ended,
    presence_show_terms,
    presence_blur
);

mod client_decode {
    use super::*;

    /// `ClientFrame::decode` (the simulated server's side).
    #[divan::bench(args = CLIENT)]
    fn decode(bencher: Bencher, kind: &str) {
        let bytes = client_frame(kind).encode();
        bencher
            .counter(BytesCount::of_slice(&bytes))
            .bench_local(|| ClientFrame::decode(black_box(&bytes)));
    }

    /// Bare `serde_json::from_slice::<ClientFrame>` on the same bytes.
    #[divan::bench(args = CLIENT)]
    fn serde(bencher: Bencher, kind: &str) {
        let bytes = client_frame(kind).encode();
        bencher
            .counter(BytesCount::of_slice(&bytes))
            .bench_local(|| serde_json::from_slice::<ClientFrame>(black_box(&bytes)));
    }
}

mod client_encode {
    use super::*;

    /// `ClientFrame::encode`.
    #[divan::bench(args = CLIENT)]
    fn encode(bencher: Bencher, kind: &str) {
        let frame = client_frame(kind);
        bencher.bench_local(|| black_box(&frame).encode());
    }

    /// Bare `serde_json::to_vec` of the same value.
    #[divan::bench(args = CLIENT)]
    fn serde(bencher: Bencher, kind: &str) {
        let frame = client_frame(kind);
        bencher.bench_local(|| serde_json::to_vec(black_box(&frame)));
    }
}
