//! The simulated world: a Glance-like server and an agent around the two machines, driven by
//! contract scenarios, writing contract transcripts. Deterministic from the scenario's `seed`;
//! time moves only by `advance_ms`.
//!
//! After each step the world settles (contract, "Scenario"): every frame in flight is
//! delivered, every event and call is handed on, every timer due at the current time fires,
//! until nothing moves.

mod server;
mod world;

pub use server::{AgentRefusal, Server, SIM_KEY_LENGTH};
pub use world::World;
