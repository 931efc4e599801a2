//! # cobrowse-visitor-core
//!
//! The cobrowse / screen-share visitor flow of the Glance visitor SDK, built once as a
//! deterministic **sans-IO** state machine: plain values in (API calls, server frames,
//! lifecycle and network changes, the current time), plain values out (events for the app,
//! frames to send, the next deadline). No sockets, threads, clocks or randomness inside.
//!
//! Two machines:
//!
//! - [`Sdk`], the SDK core: the visitor SDK's protocol engine (`initVisitor`, `startSession`,
//!   presence, terms, reconnects).
//! - [`Controller`], the integration controller: the seed's application logic (show the
//!   button, start a random-key session on tap, connect presence after login, answer the
//!   terms, never show a one-click key).
//!
//! This crate holds the protocol and nothing else. The contract's transcript format, the
//! simulated Glance service and the invariant oracle are in `cobrowse-visitor-conformance`;
//! the tokio driver is `cobrowse-visitor-driver`; the normative text is `spec.md`.
//!
//! ## Driving the SDK core
//!
//! After every input, drain [`Sdk::poll_output`] until [`Output::Timeout`]; call again with
//! [`Input::Timeout`] when that instant comes (the single-mutation rule, spec.md §2).
//!
//! ```
//! use cobrowse_visitor_core::{
//!     ApiCall, Event, InitParams, Input, Instant, Output, Sdk, ServerFrame, StartKey,
//! };
//!
//! let mut sdk = Sdk::default();
//! let mut now = Instant::from_millis(0);
//!
//! // initVisitor(19921, token: "", name: "", email: "", phone: "")
//! sdk.handle_input(now, Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))))
//!     .unwrap();
//! let Output::Transmit(init) = sdk.poll_output() else { panic!("init frame first") };
//! assert_eq!(init.encode()[..14], br#"{"type":"init""#[..]);
//! // The IO layer sends `init`; the server answers with the group's settings.
//! now = Instant::from_millis(40);
//! sdk.handle_bytes(now, br#"{"type":"settings","v":1,"key_length":4}"#).unwrap();
//! assert_eq!(
//!     sdk.poll_output(),
//!     Output::Event(Event::VisitorInitialized { settings_loaded: true })
//! );
//!
//! // The Cobrowse button: startSession("GLANCE_KEYTYPE_RANDOM")
//! sdk.handle_input(now, Input::Api(ApiCall::start_session(StartKey::Random)))
//!     .unwrap();
//! assert!(matches!(sdk.poll_output(), Output::Transmit(_)));
//! // Nothing more to do until the start timeout, 15 s later.
//! assert_eq!(sdk.poll_output(), Output::Timeout(Some(Instant::from_millis(15_040))));
//!
//! sdk.handle_input(now, Input::Frame(ServerFrame::SessionStarted { sessionkey: "4821".into() }))
//!     .unwrap();
//! let Output::Event(connected) = sdk.poll_output() else { panic!() };
//! assert_eq!(connected.code(), "EventConnectedToSession");
//! assert_eq!(connected.properties()["sessionkey"], "4821");
//! ```
//!
//! ## The public API
//!
//! Every item is exported from the crate root, once:
//!
//! - the SDK core: [`Sdk`], [`SdkConfig`], [`Input`], [`Output`], [`Lifecycle`],
//!   [`NetworkChange`], and its read-only [`State`] (spec.md §4.1);
//! - the controller: [`Controller`], [`ControllerConfig`], [`ControllerInput`],
//!   [`ControllerOutput`], [`UserIntent`], [`UiDirective`], [`UiElement`] and its
//!   [`ControllerState`] (§4.2);
//! - the values they exchange: [`ApiCall`], [`Event`], [`ClientFrame`], [`ServerFrame`],
//!   [`Instant`], [`Timer`];
//! - the shared vocabulary, as types: [`Row`] (the transition rows), [`ErrorCode`],
//!   [`CallName`], and the errors [`Error`], [`ApiError`], [`ProtocolError`],
//!   [`FrameError`], [`ParameterError`], [`ControllerError`];
//! - the field limits of §3.3 and §8.3 (`MAX_*`);
//! - [`Redaction`]: the one rule for keeping the visitor's secrets out of traces.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod controller;
mod errors;
mod events;
mod frames;
mod redact;
mod rows;
mod sdk;
mod time;
mod timers;

pub use api::{
    validate_max_attempts, validate_presence_data, validate_session_key, validate_signal,
    validate_visitor_id, ApiCall, CallName, InitParams, Limits, ParameterError, StartKey,
    StartOptions, StartParams, TermsStatus, ATTEMPTS_FOREVER, GLANCE_KEYTYPE_RANDOM, MAX_EMAIL,
    MAX_GROUP_ID, MAX_GUESTS, MAX_NAME, MAX_PHONE, MAX_PRESENCE_DATA_ENTRIES, MAX_SESSION_KEY,
    MAX_SIGNAL_ENTRIES, MAX_SIGNAL_TEXT, MAX_TOKEN, MAX_VISITOR_ID, MAX_VISITOR_ID_CORE,
    MAX_VISITOR_ID_WEB, MIN_GROUP_ID, TERMS_EVENT,
};
pub use controller::{
    App, Controller, ControllerConfig, ControllerError, ControllerInput, ControllerOutput,
    ControllerSnapshot, ControllerState, Identity, Origin, PresenceView, SessionView, UiDirective,
    UiElement, UserIntent, SEED_GROUP_ID,
};
pub use errors::{ApiError, Error, ErrorCode, ProtocolError};
pub use events::{Event, EventType, KeyType};
pub use frames::{
    ClientFrame, FrameError, ServerFrame, ServerFrameKind, MAX_FRAME_BYTES, MAX_RANDOM_KEY,
    MAX_REASON, PROTOCOL_VERSION,
};
pub use redact::{Redaction, PLACEHOLDER};
pub use rows::Row;
pub use sdk::{
    AppVisibility, ConsentPolicy, Input, KeyRequest, Lifecycle, Link, Lookup, NetworkChange,
    Output, Phase, PhaseKind, Presence, PresenceKind, Ready, RestoreError, Sdk, SdkConfig, Session,
    SessionKind, SessionSnapshot, Settings, Snapshot, State, StateKind, Terms, RESTART_EXPIRED,
    SNAPSHOT_FORMAT,
};
pub use time::Instant;
pub use timers::{Timer, Timers};
