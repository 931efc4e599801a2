//! # cobrowse-visitor-testkit (not published)
//!
//! The parts of the visitor core's test suites that more than one suite uses, laid out by
//! role as Firezone's connlib tests are:
//!
//! - [`reference`](mod@reference): the reference model, written from spec.md;
//! - [`sut`]: the real machines, projected into the model's terms, and the harnesses;
//! - [`transition`]: the input alphabets;
//! - [`strategies`]: the generators;
//! - [`machines`]: the proptest-state-machine glue;
//! - [`runner`]: how a proptest-state-machine test is run, shrunk and recorded;
//! - [`explore`]: the bounded exhaustive explorer;
//! - [`judge`]: machine-level judges of issue 14's invariants over a core's inputs and
//!   outputs;
//! - [`fixtures`]: the benchmark and allocation-test fixtures.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

pub mod explore;
pub mod fixtures;
pub mod judge;
pub mod machines;
pub mod reference;
pub mod runner;
pub mod strategies;
pub mod sut;
pub mod transition;
