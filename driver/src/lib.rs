//! # cobrowse-visitor-driver
//!
//! A real IO driver for the sans-IO visitor core ([`cobrowse_visitor_core`]): tokio,
//! WebSocket (tokio-tungstenite) and TLS (rustls; `wss://` by default), with dead-link
//! detection and per-phase connect deadlines; and, behind the `loopback` feature, a loopback
//! server to run it against.
//!
//! - [`spawn`] (`driver`): one task that owns the socket, the clock and the core's timer, feeds
//!   frames, lifecycle and network changes and deadlines into [`cobrowse_visitor_core::Sdk`],
//!   writes what it polls out, reconnects when the core says [`Output::Connect`], and hands
//!   events to the app through a channel. No protocol rule lives in it. After an app
//!   restart, [`spawn_with`] drives the core `Sdk::restore` made of the snapshot the previous
//!   process kept ([`DriverHandle::snapshot`], spec.md §5.6).
//! - [`Clock`] (`clock`): where the core's time comes from: tokio's clock, or a manual clock that tests
//!   wind.
//! - [`ConnectError`] (`connect`): `wss://` through rustls, the plain-`ws://` policy, the connect phases and
//!   their typed errors; [`Redaction`] (`redact`): what the driver keeps out of traces.
//! - `loopback` (feature `loopback`, off by default: not part of the driver an SDK ships):
//!   the simulator's server logic (`cobrowse_visitor_conformance::sim::Server`) behind a
//!   WebSocket on `127.0.0.1`, with an agent side and fault injection, for tests and demos.
//!
//! ```no_run
//! use cobrowse_visitor_core::{ApiCall, Event, InitParams};
//! use cobrowse_visitor_driver::{spawn, DriverConfig, Notification};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let (sdk, mut notifications) = spawn(DriverConfig::new("ws://127.0.0.1:4000/"));
//! sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921))).await?;
//! while let Some(n) = notifications.recv().await {
//!     if let Notification::Event(Event::VisitorInitialized { .. }) = n {
//!         // show the Cobrowse button
//!         break;
//!     }
//! }
//! sdk.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! [`Output::Connect`]: cobrowse_visitor_core::Output::Connect
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod connect;
mod driver;
#[cfg(feature = "loopback")]
mod loopback;
mod redact;

pub use clock::{Clock, ManualClock};
pub use connect::{CertificateProblem, ConnectError, ConnectPhase, Roots};
pub use driver::{
    spawn, spawn_with, DriverConfig, DriverError, DriverHandle, DriverStatus, LinkError,
    Notification, Reachability,
};
#[cfg(feature = "loopback")]
pub use loopback::{
    tls_server_config, LoopbackServer, ServerConfig, ServerControl, ServerError, ServerStatus,
};
pub use redact::{Redaction, PLACEHOLDER};
