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
//! Around them: [`transcript`] (the contract's JSON Lines records), [`sim`] (a deterministic
//! simulated server and agent that play scenarios), [`oracle`] (the one invariant checker,
//! used by `cobrowse check`, the property tests and the fuzz targets) and the normative
//! `spec.md`.
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
//! sdk.handle_input(now, Input::Api(ApiCall::StartSession { key: StartKey::Random }))
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod controller;
pub mod errors;
pub mod events;
pub mod frames;
pub mod oracle;
pub mod sdk;
pub mod sim;
pub mod time;
pub mod timers;
pub mod transcript;

pub use api::{ApiCall, InitParams, ParameterError, StartKey, TermsStatus, GLANCE_KEYTYPE_RANDOM};
pub use controller::{
    Controller, ControllerConfig, ControllerError, ControllerOutput, UiDirective, UiElement,
    UserIntent,
};
pub use errors::{ApiError, Error, ProtocolError};
pub use events::{Event, KeyType};
pub use frames::{ClientFrame, FrameError, ServerFrame, PROTOCOL_VERSION};
pub use sdk::{Input, Lifecycle, NetworkChange, Output, Sdk, SdkConfig};
pub use time::Instant;
