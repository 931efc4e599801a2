//! # cobrowse-visitor-conformance
//!
//! What it takes to check that a visitor SDK follows the spec, apart from the protocol core
//! itself (`cobrowse-visitor-core`):
//!
//! - [`transcript`]: the contract's JSON Lines scenarios and transcripts
//!   (`../shared/contract/README.md`), parsed and written;
//! - [`sim`]: a deterministic simulated Glance service and agent, and the world that plays a
//!   scenario through the controller, the SDK core and them ([`sim::World`]);
//! - [`oracle`]: the one copy of every invariant of spec.md §10, as a streaming trace checker
//!   and as machine-level checks.
//!
//! `cobrowse run` / `check`, the driver's loopback server, the fuzz targets, the property
//! suites and other SDKs' trace checking all use this crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bugs;
pub mod liveness;
pub mod oracle;
pub mod sim;
pub mod transcript;
