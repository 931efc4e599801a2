//! Wire frames: JSON objects tagged by `type`, one enum each way.
//!
//! The protocol version travels in the handshake (`init.v`, `settings.v`); every other frame
//! belongs to that version. [`ServerFrame::decode`] and [`ClientFrame::decode`] turn any
//! malformed, unknown or oversized input into a [`FrameError`]; they never panic. Whether a
//! well-formed frame fits the machine's state is the machine's question
//! ([`crate::ProtocolError::UnexpectedFrame`]).

use crate::api::{validate_session_key, validate_signal, Limits, TERMS_EVENT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest encoded frame, in bytes, either way.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Longest `reason` text in a frame.
pub const MAX_REASON: usize = 256;
/// Longest random session key the server may assign.
pub const MAX_RANDOM_KEY: u8 = 16;

/// Frames the SDK sends to the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ClientFrame {
    /// Handshake and settings lookup for the visitor (sent by `init_visitor`).
    Init {
        /// Protocol version, [`PROTOCOL_VERSION`].
        v: u32,
        /// Glance group id: the `init_visitor` call's, so always 1..=2147483647 from this
        /// SDK (an `Int32`, as the API's; the JSON is the same number).
        group_id: i32,
        /// Authentication token.
        token: String,
        /// Visitor name.
        name: String,
        /// Visitor email.
        email: String,
        /// Visitor phone.
        phone: String,
        /// Visitor id, when identified.
        visitor_id: Option<String>,
    },
    /// Start a session; `key: null` asks for a random numeric key.
    StartSession {
        /// The visitor id or custom key; `None` for a random key.
        key: Option<String>,
        /// At most this many agents may join (`maxGuests`); absent: the service's limit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_guests: Option<u16>,
        /// The session starts paused; absent when not.
        #[serde(default, skip_serializing_if = "is_false")]
        paused: bool,
    },
    /// End the current session (or abandon one that is starting).
    EndSession {},
    /// After a reconnect: the session with this key is still ours.
    ResumeSession {
        /// The running session's key.
        sessionkey: String,
    },
    /// Connect to the presence service as this visitor.
    PresenceConnect {
        /// The visitor id from `init_visitor`.
        visitor_id: String,
    },
    /// Leave the presence service.
    PresenceDisconnect {},
    /// A signal to the agent (`signalAgent`).
    PresenceSignal {
        /// Signal name, e.g. `terms`.
        event: String,
        /// Signal properties.
        map: BTreeMap<String, String>,
        /// The one-click request a `terms` signal answers.
        request_id: Option<u64>,
    },
    /// The app went to the background or came back (for presence and the agent's view).
    AppState {
        /// `true` in the foreground.
        foreground: bool,
    },
    /// The visitor's presence data for the agent's view (`presence(map)`): the whole merged
    /// map, which replaces what the service had.
    PresenceData {
        /// Every entry set so far.
        map: BTreeMap<String, String>,
    },
    /// The visitor's visibility (`signalVisibility`).
    PresenceVisibility {
        /// Visible to the customer.
        visible: bool,
    },
    /// The running session is paused or unpaused (`pause`).
    Pause {
        /// Paused.
        paused: bool,
    },
    /// A message to the session's agents (`sendUserMessage`).
    UserMessage {
        /// Its name.
        name: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// The user state of the session (`setUserState`): the whole merged map, which replaces
    /// what the service had.
    UserState {
        /// Every state set in this session.
        state: BTreeMap<String, String>,
    },
}

/// Frames the server sends to the SDK.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServerFrame {
    /// Answer to `init`: the group's settings.
    Settings {
        /// Protocol version; must equal [`PROTOCOL_VERSION`].
        v: u32,
        /// Digits in a random session key (1–16).
        key_length: u8,
        /// The group lets an agent start a session without the terms dialog (the header's
        /// "case 3"); absent (`false`) unless the group says so. It takes effect only when
        /// the app's [`crate::ConsentPolicy`] allows it too (spec.md §5.2, S-F25).
        #[serde(default, skip_serializing_if = "is_false")]
        agent_start: bool,
    },
    /// Answer to `init`: the settings lookup failed; the SDK goes on with defaults.
    InitFailed {
        /// Why.
        reason: String,
    },
    /// The session is up with this key.
    SessionStarted {
        /// The session key.
        sessionkey: String,
    },
    /// The server refused to start the session.
    SessionRefused {
        /// Why.
        reason: String,
    },
    /// The number of agents in the session changed.
    GuestCount {
        /// Agents now in the session.
        guestcount: u32,
    },
    /// The session ended (the agent ended it, or the server confirms `end_session`).
    SessionEnded {
        /// Why.
        reason: String,
    },
    /// Presence is connected.
    PresenceConnected {},
    /// Presence could not connect.
    PresenceConnectFailed {
        /// Why.
        reason: String,
    },
    /// An agent asks for a one-click session: show the terms.
    PresenceShowTerms {
        /// Identifies this request; the `terms` signals answer it.
        request_id: u64,
    },
    /// Another app instance took this visitor id; this one is blurred.
    PresenceBlur {},
    /// A custom signal from the agent (`EventPresenceSignal`, the web SDK's `onsignal`).
    PresenceSignal {
        /// Signal name; not `terms` (the terms flow has its own frames).
        event: String,
        /// Signal properties; no key `event`.
        map: BTreeMap<String, String>,
    },
    /// The agent starts a session without the terms dialog (`EventPresenceStartSession`).
    /// Whether the visitor may follow it is the consent policy's question (S-F25, S-F26).
    PresenceStartSession {
        /// Identifies this request.
        request_id: u64,
    },
    /// Presence is not enabled for the group (`EventPresenceNotConfigured`): the answer to
    /// `presence_connect`; not retried.
    PresenceNotConfigured {},
    /// A message from an agent in the session (`EventMessageReceived`).
    UserMessage {
        /// Its name.
        name: String,
        /// Its properties; no key `name`.
        map: BTreeMap<String, String>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, not an object, an unknown `type`, a missing or unknown field, a wrong type.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A handshake with another protocol version.
    #[error("protocol version {got} is not {PROTOCOL_VERSION}")]
    Version {
        /// The version received.
        got: u32,
    },
    /// A field out of its range (a key that is not a key, an over-long reason, …).
    #[error("field `{field}` is out of range")]
    Field {
        /// The field's name.
        field: &'static str,
    },
}

fn check_size(bytes: &[u8]) -> Result<(), FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        Err(FrameError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_BYTES,
        })
    } else {
        Ok(())
    }
}

fn reason_ok(r: &str) -> Result<(), FrameError> {
    if r.len() > MAX_REASON {
        Err(FrameError::Field { field: "reason" })
    } else {
        Ok(())
    }
}

/// A session key the server may send: a custom / visitor-id key (under the widest
/// [`Limits`]: the core compares it with the key it asked for, S-F15), or digits.
fn sessionkey_ok(k: &str) -> Result<(), FrameError> {
    validate_session_key(k)
        .or_else(|_| Limits::GlanceCore.validate_visitor_id(k))
        .map_err(|_| FrameError::Field {
            field: "sessionkey",
        })
}

impl ServerFrame {
    /// Decodes and validates one frame.
    pub fn decode(bytes: &[u8]) -> Result<ServerFrame, FrameError> {
        check_size(bytes)?;
        let frame: ServerFrame =
            serde_json::from_slice(bytes).map_err(|e| FrameError::Malformed(e.to_string()))?;
        frame.validate()?;
        Ok(frame)
    }

    /// Checks the ranges that serde's types do not.
    // Inlined so that the frames with nothing to check (every string-free input the core
    // takes on its hot path) cost one comparison, not a call (BENCHMARKS.md, issue 13
    // round 3); the checks themselves stay out of line.
    #[inline]
    pub fn validate(&self) -> Result<(), FrameError> {
        match self {
            ServerFrame::GuestCount { .. }
            | ServerFrame::PresenceConnected {}
            | ServerFrame::PresenceShowTerms { .. }
            | ServerFrame::PresenceBlur {}
            | ServerFrame::PresenceStartSession { .. }
            | ServerFrame::PresenceNotConfigured {} => Ok(()),
            _ => self.validate_fields(),
        }
    }

    /// [`ServerFrame::validate`] of a frame with fields to check.
    #[inline(never)]
    fn validate_fields(&self) -> Result<(), FrameError> {
        match self {
            ServerFrame::Settings { v, key_length, .. } => {
                if *v != PROTOCOL_VERSION {
                    return Err(FrameError::Version { got: *v });
                }
                if *key_length == 0 || *key_length > MAX_RANDOM_KEY {
                    return Err(FrameError::Field {
                        field: "key_length",
                    });
                }
                Ok(())
            }
            ServerFrame::InitFailed { reason }
            | ServerFrame::SessionRefused { reason }
            | ServerFrame::SessionEnded { reason }
            | ServerFrame::PresenceConnectFailed { reason } => reason_ok(reason),
            ServerFrame::SessionStarted { sessionkey } => sessionkey_ok(sessionkey),
            ServerFrame::PresenceSignal { event, map } => {
                if validate_signal(event, map).is_err() || event == TERMS_EVENT {
                    return Err(FrameError::Field { field: "event" });
                }
                if map.contains_key("event") {
                    return Err(FrameError::Field { field: "map" });
                }
                Ok(())
            }
            ServerFrame::UserMessage { name, map } => {
                if crate::api::validate_user_message(name, map).is_err() {
                    return Err(FrameError::Field { field: "name" });
                }
                if map.contains_key("name") {
                    return Err(FrameError::Field { field: "map" });
                }
                Ok(())
            }
            ServerFrame::GuestCount { .. }
            | ServerFrame::PresenceConnected {}
            | ServerFrame::PresenceShowTerms { .. }
            | ServerFrame::PresenceBlur {}
            | ServerFrame::PresenceStartSession { .. }
            | ServerFrame::PresenceNotConfigured {} => Ok(()),
        }
    }

    /// Encodes the frame as JSON.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain data enums to a Vec cannot fail: no maps with non-string
        // keys, no floats, no custom Serialize impls.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The frame's type.
    pub fn kind(&self) -> ServerFrameKind {
        match self {
            ServerFrame::Settings { .. } => ServerFrameKind::Settings,
            ServerFrame::InitFailed { .. } => ServerFrameKind::InitFailed,
            ServerFrame::SessionStarted { .. } => ServerFrameKind::SessionStarted,
            ServerFrame::SessionRefused { .. } => ServerFrameKind::SessionRefused,
            ServerFrame::GuestCount { .. } => ServerFrameKind::GuestCount,
            ServerFrame::SessionEnded { .. } => ServerFrameKind::SessionEnded,
            ServerFrame::PresenceConnected {} => ServerFrameKind::PresenceConnected,
            ServerFrame::PresenceConnectFailed { .. } => ServerFrameKind::PresenceConnectFailed,
            ServerFrame::PresenceShowTerms { .. } => ServerFrameKind::PresenceShowTerms,
            ServerFrame::PresenceBlur {} => ServerFrameKind::PresenceBlur,
            ServerFrame::PresenceSignal { .. } => ServerFrameKind::PresenceSignal,
            ServerFrame::PresenceStartSession { .. } => ServerFrameKind::PresenceStartSession,
            ServerFrame::PresenceNotConfigured {} => ServerFrameKind::PresenceNotConfigured,
            ServerFrame::UserMessage { .. } => ServerFrameKind::UserMessage,
        }
    }
}

/// The `type` of a [`ServerFrame`], without its fields; prints as the wire word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ServerFrameKind {
    /// `settings`
    Settings,
    /// `init_failed`
    InitFailed,
    /// `session_started`
    SessionStarted,
    /// `session_refused`
    SessionRefused,
    /// `guest_count`
    GuestCount,
    /// `session_ended`
    SessionEnded,
    /// `presence_connected`
    PresenceConnected,
    /// `presence_connect_failed`
    PresenceConnectFailed,
    /// `presence_show_terms`
    PresenceShowTerms,
    /// `presence_blur`
    PresenceBlur,
    /// `presence_signal`
    PresenceSignal,
    /// `presence_start_session`
    PresenceStartSession,
    /// `presence_not_configured`
    PresenceNotConfigured,
    /// `user_message`
    UserMessage,
}

impl ServerFrameKind {
    /// The wire word (`session_started`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ServerFrameKind::Settings => "settings",
            ServerFrameKind::InitFailed => "init_failed",
            ServerFrameKind::SessionStarted => "session_started",
            ServerFrameKind::SessionRefused => "session_refused",
            ServerFrameKind::GuestCount => "guest_count",
            ServerFrameKind::SessionEnded => "session_ended",
            ServerFrameKind::PresenceConnected => "presence_connected",
            ServerFrameKind::PresenceConnectFailed => "presence_connect_failed",
            ServerFrameKind::PresenceShowTerms => "presence_show_terms",
            ServerFrameKind::PresenceBlur => "presence_blur",
            ServerFrameKind::PresenceSignal => "presence_signal",
            ServerFrameKind::PresenceStartSession => "presence_start_session",
            ServerFrameKind::PresenceNotConfigured => "presence_not_configured",
            ServerFrameKind::UserMessage => "user_message",
        }
    }
}

impl std::fmt::Display for ServerFrameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ClientFrame {
    /// Decodes and validates one frame (the server's side; also the simulator's).
    pub fn decode(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
        check_size(bytes)?;
        let frame: ClientFrame =
            serde_json::from_slice(bytes).map_err(|e| FrameError::Malformed(e.to_string()))?;
        if let ClientFrame::Init { v, .. } = &frame {
            if *v != PROTOCOL_VERSION {
                return Err(FrameError::Version { got: *v });
            }
        }
        Ok(frame)
    }

    /// Encodes the frame as JSON.
    pub fn encode(&self) -> Vec<u8> {
        // As for ServerFrame: plain data with string keys cannot fail to serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Settings {
                v: PROTOCOL_VERSION,
                key_length: 4,
                agent_start: false,
            },
            ServerFrame::Settings {
                v: PROTOCOL_VERSION,
                key_length: 4,
                agent_start: true,
            },
            ServerFrame::PresenceSignal {
                event: "cobrowse_hint".into(),
                map: BTreeMap::from([("page".into(), "checkout".into())]),
            },
            ServerFrame::PresenceStartSession { request_id: 3 },
            ServerFrame::PresenceNotConfigured {},
            ServerFrame::SessionStarted {
                sessionkey: "1234".into(),
            },
            ServerFrame::GuestCount { guestcount: 2 },
            ServerFrame::PresenceShowTerms { request_id: 9 },
            ServerFrame::PresenceBlur {},
        ];
        for f in frames {
            assert_eq!(ServerFrame::decode(&f.encode()), Ok(f));
        }
    }

    #[test]
    fn decoder_refuses_bad_bytes() {
        assert!(matches!(
            ServerFrame::decode(b"not json"),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            ServerFrame::decode(br#"{"type":"nope"}"#),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            ServerFrame::decode(br#"{"type":"guest_count","guestcount":-1}"#),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            ServerFrame::decode(br#"{"type":"presence_blur","extra":1}"#),
            Err(FrameError::Malformed(_))
        ));
        assert_eq!(
            ServerFrame::decode(br#"{"type":"settings","v":2,"key_length":4}"#),
            Err(FrameError::Version { got: 2 })
        );
        assert_eq!(
            ServerFrame::decode(br#"{"type":"settings","v":1,"key_length":0}"#),
            Err(FrameError::Field {
                field: "key_length"
            })
        );
        assert_eq!(
            ServerFrame::decode(br#"{"type":"session_started","sessionkey":"a b"}"#),
            Err(FrameError::Field {
                field: "sessionkey"
            })
        );
        let big = vec![b' '; MAX_FRAME_BYTES + 1];
        assert!(matches!(
            ServerFrame::decode(&big),
            Err(FrameError::TooLarge { .. })
        ));
        let long_reason = format!(
            r#"{{"type":"session_ended","reason":"{}"}}"#,
            "r".repeat(MAX_REASON + 1)
        );
        assert_eq!(
            ServerFrame::decode(long_reason.as_bytes()),
            Err(FrameError::Field { field: "reason" })
        );
    }

    #[test]
    fn settings_bytes_unchanged_without_agent_start() {
        let f = ServerFrame::Settings {
            v: PROTOCOL_VERSION,
            key_length: 4,
            agent_start: false,
        };
        assert_eq!(
            f.encode(),
            br#"{"type":"settings","v":1,"key_length":4}"#.to_vec()
        );
    }

    #[test]
    fn agent_signals_are_not_terms_and_have_no_event_key() {
        let terms = ServerFrame::PresenceSignal {
            event: TERMS_EVENT.into(),
            map: BTreeMap::from([("status".into(), "accepted".into())]),
        };
        assert_eq!(terms.validate(), Err(FrameError::Field { field: "event" }));
        let clash = ServerFrame::PresenceSignal {
            event: "x".into(),
            map: BTreeMap::from([("event".into(), "y".into())]),
        };
        assert_eq!(clash.validate(), Err(FrameError::Field { field: "map" }));
        let empty = ServerFrame::PresenceSignal {
            event: String::new(),
            map: BTreeMap::new(),
        };
        assert_eq!(empty.validate(), Err(FrameError::Field { field: "event" }));
    }

    #[test]
    fn client_frames_round_trip() {
        let f = ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        };
        assert_eq!(
            f.encode(),
            br#"{"type":"start_session","key":null}"#.to_vec()
        );
        assert_eq!(ClientFrame::decode(&f.encode()), Ok(f));
    }
}
