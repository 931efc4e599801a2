//! The simulated world: a Glance-like server and an agent around the two machines, driven by
//! contract scenarios, writing contract transcripts. Deterministic from the scenario's `seed`;
//! time moves only by `advance_ms`.
//!
//! After each step the world settles (contract, "Scenario"): every frame in flight is
//! delivered, every event and call is handed on, every timer due at the current time fires,
//! until nothing moves; a world that does not within a bound is an error ([`NotSettled`]).
//! [`World::apply_with`] is the one driver, with [`Hooks`] for what its users differ in.

mod drive;
mod server;
mod world;

pub use drive::{
    DriveError, Driven, FedKind, Hooks, NoHooks, NotSettled, SdkFed, Split, Wake, WorldOptions,
    MAX_SETTLE_MOVES, RESTORE_REFUSED,
};
pub use server::{AgentRefusal, Server, SIM_KEY_LENGTH};
pub use world::World;
