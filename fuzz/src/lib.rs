//! Fuzz targets for the cobrowse visitor core, judged by the one invariant oracle
//! (`cobrowse_visitor_conformance::oracle`); this crate never restates an invariant, it only drives
//! the machines and hands what they did to the oracle.
//!
//! | target | input | judged by |
//! | --- | --- | --- |
//! | `decode_frame` | bytes | `ServerFrame::decode` gives a frame or a `FrameError`; a frame re-encodes and decodes to itself; `Sdk::handle_bytes` refuses what does not decode without a state change |
//! | `drive_core` | [`drive::CoreInput`]: config and ops | the SDK core and the controller driven op by op; the oracle after every step; `machine::{refused_unchanged, controller_refused_unchanged, timer_not_early, deterministic}` |
//! | `drive_scenario` | [`scenario::FuzzScenario`] | the simulator; its transcript read back through the contract format and checked |
//! | `check_trace` | bytes as a trace file | parse + check: a report or an error, no panic, memory bounded per line |
//!
//! The structure-aware inputs use the byte format of [`input`], which [`input::Writer`] can
//! also write: `make-corpus` encodes `scenarios/*.jsonl` into seeds with it.

#![forbid(unsafe_code)]

pub mod drive;
pub mod frame;
pub mod input;
pub mod memo;
pub mod memory;
#[cfg(test)]
mod regressions;
pub mod report;
pub mod scenario;
pub mod trace;

use cobrowse_visitor_conformance::oracle::{CheckOptions, Invariant, InvariantKind};

/// The invariant IDs `drive_core` checks: the oracle's transcript invariants on the trace it
/// builds (with a scenario line per op, so the per-step ones are judged too), and the three
/// machine-level ones through `oracle::machine`. Not the progress properties in trace time
/// (`LIVE-*`): `drive_core` wakes the core late on purpose (spec.md §2 allows any `t' ≥ t`),
/// and those bounds assume a core woken at its deadlines; nor the replay ([`replayed`]).
/// `drive_scenario` judges them.
pub const DRIVE_CORE_CHECKS: [&str; 34] = [
    "INV-GROUP-STABLE",
    "INV-INIT-FIRST",
    "INV-PRESENCE-NEEDS-ID",
    "INV-MANUAL-RANDOM",
    "INV-KEY-SHOWN-MANUAL",
    "INV-KEY-HIDDEN-PRESENCE",
    "INV-TERMS-ORDER",
    "INV-CONSENT",
    "INV-ONE-SESSION",
    "INV-NO-DISCONNECT-ON-BACKGROUND",
    "INV-DISCONNECT-ON-LOGOUT",
    "INV-CUSTOM-UI",
    "INV-REFUSED-NO-EFFECT",
    "INV-GUESTS-IN-SESSION",
    "INV-SESSION-ENDED-PAIRED",
    "INV-WARNING-PAIRED",
    "INV-NO-SEND-OFFLINE",
    "INV-KEY-MATCHES-REQUEST",
    "INV-CONTROLLER-CALLS-ACCEPTED",
    "INV-CONSENT-POLICY",
    "INV-CONNECT-ATTEMPTS",
    "INV-NOT-CONFIGURED",
    "INV-PRESENCE-DATA",
    "INV-SEND-FAIL-REFUSES",
    "INV-PAUSE-RUNNING",
    "INV-PAUSE-SHOWN",
    "INV-MESSAGE-IN-SESSION",
    "INV-RESTORE-KEY-HIDDEN",
    "INV-RESTORE-GROUP",
    "INV-START-OPTIONS",
    "INV-PERSIST",
    "INV-REFUSED-UNCHANGED",
    "INV-TIMER-NOT-EARLY",
    "INV-DETERMINISTIC",
];

/// The invariant IDs `drive_scenario` checks: every transcript invariant and trace-time
/// progress property on the simulator's interleaved transcript, and `INV-DETERMINISTIC` on two
/// runs of the same scenario.
pub const DRIVE_SCENARIO_CHECKS: [&str; 39] = [
    "INV-GROUP-STABLE",
    "INV-INIT-FIRST",
    "INV-PRESENCE-NEEDS-ID",
    "INV-MANUAL-RANDOM",
    "INV-KEY-SHOWN-MANUAL",
    "INV-KEY-HIDDEN-PRESENCE",
    "INV-TERMS-ORDER",
    "INV-CONSENT",
    "INV-ONE-SESSION",
    "INV-NO-DISCONNECT-ON-BACKGROUND",
    "INV-DISCONNECT-ON-LOGOUT",
    "INV-CUSTOM-UI",
    "INV-REFUSED-NO-EFFECT",
    "INV-GUESTS-IN-SESSION",
    "INV-SESSION-ENDED-PAIRED",
    "INV-WARNING-PAIRED",
    "INV-NO-SEND-OFFLINE",
    "INV-KEY-MATCHES-REQUEST",
    "INV-CONTROLLER-CALLS-ACCEPTED",
    "INV-SDK-REPLAY",
    "INV-CONTROLLER-REPLAY",
    "INV-CONSENT-POLICY",
    "INV-CONNECT-ATTEMPTS",
    "INV-NOT-CONFIGURED",
    "INV-PRESENCE-DATA",
    "INV-SEND-FAIL-REFUSES",
    "INV-PAUSE-RUNNING",
    "INV-PAUSE-SHOWN",
    "INV-MESSAGE-IN-SESSION",
    "INV-RESTORE-KEY-HIDDEN",
    "INV-RESTORE-GROUP",
    "INV-START-OPTIONS",
    "INV-PERSIST",
    "LIVE-INIT",
    "LIVE-PRESENCE",
    "LIVE-SESSION-RESOLVES",
    "LIVE-GUEST-COUNT",
    "LIVE-BACKGROUND-SUSPEND",
    "INV-DETERMINISTIC",
];

/// The agreement and progress properties (spec.md §10.4) `drive_scenario` checks on every
/// scenario without direct `api` steps (and `drive_core` on every input a scenario could say,
/// with the service answering): `INV-AGREEMENT` after every step, the liveness
/// properties after the heal suffix, `LIVE-BACKGROUND-SUSPEND` after the background suffix,
/// and `LIVE-RESTART-TRANSPARENT` with a relaunch the input places after a settled step.
pub const DRIVE_SCENARIO_PROGRESS: [&str; 7] = [
    "INV-AGREEMENT",
    "LIVE-INIT",
    "LIVE-PRESENCE",
    "LIVE-SESSION-RESOLVES",
    "LIVE-GUEST-COUNT",
    "LIVE-BACKGROUND-SUSPEND",
    "LIVE-RESTART-TRANSPARENT",
];

/// The invariant IDs `decode_frame` checks: a frame the SDK refuses leaves its state as it was.
pub const DECODE_FRAME_CHECKS: [&str; 1] = ["INV-REFUSED-UNCHANGED"];

/// `check_trace` checks no invariant holds (its traces are arbitrary); it checks that the
/// checker itself answers every input with a report or an error, never a panic, in bounded
/// memory, and that what it reports is consistent (see [`trace`]).
pub const CHECK_TRACE_CHECKS: [&str; 0] = [];

/// The integration controller's own duties. When an input goes around the controller (an
/// `api` step calls the SDK directly, which is what the contract's `api` step is for: misuse;
/// or, in `drive_core`, the host terminates the SDK while the app runs on), the app no longer
/// is the controller, so these are not judged from that op on. Everything else must still
/// hold, because the SDK core enforces it whatever the app calls.
pub const CONTROLLER_DUTIES: [Invariant; 5] = [
    // a random-key session the app started itself: the app must show the key
    Invariant::KeyShownManual,
    // a presence_connect the app made itself: the app must switch the default UI off
    Invariant::CustomUi,
    // presence the app connected behind the controller's back: logout cannot know of it
    Invariant::DisconnectOnLogout,
    // the controller's calls after the host terminated the SDK under it are refused (the
    // oracle itself skips this one when there are `api` steps)
    Invariant::ControllerCallsAccepted,
    // a pause the app made itself: the controller's notice does not know of it
    Invariant::PauseShown,
];

/// Whether `invariant` is judged for an input that has (`bypassed`) or has not yet gone
/// around the controller.
pub fn judged(invariant: Invariant, bypassed: bool) -> bool {
    !(bypassed && CONTROLLER_DUTIES.contains(&invariant))
}

/// The replay invariants (`INV-SDK-REPLAY`, `INV-CONTROLLER-REPLAY`), which `drive_core`
/// does not judge: it feeds the core what no trace shows (raw and hostile bytes, late
/// wake-ups, fuzzed timer durations, a terminate of its own), so a replay of its trace from
/// the trace's inputs at the default durations cannot be held to it. `drive_scenario` and
/// `check_trace` judge them.
pub fn replayed(invariant: Invariant) -> bool {
    matches!(
        invariant,
        Invariant::SdkReplay | Invariant::ControllerReplay
    )
}

/// The oracle's options for `drive_core`: every invariant it never judges
/// ([`judged_by_drive_core`] with or without the controller) skipped, so that its checker does
/// not run at all (`CheckOptions::skipping`).
pub fn drive_core_options() -> CheckOptions {
    Invariant::ALL
        .iter()
        .filter(|i| !judged_by_drive_core(**i, false) && !judged_by_drive_core(**i, true))
        .fold(CheckOptions::default(), |o, i| o.skipping(*i))
}

/// Whether `drive_core` judges `invariant` (see [`DRIVE_CORE_CHECKS`]).
pub fn judged_by_drive_core(invariant: Invariant, bypassed: bool) -> bool {
    invariant.kind() != InvariantKind::Liveness
        && !replayed(invariant)
        && judged(invariant, bypassed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_core_lists_every_invariant() {
        let all: Vec<&str> = Invariant::ALL
            .iter()
            .filter(|i| i.kind() != InvariantKind::Liveness && !replayed(**i))
            .map(|i| i.id())
            .collect();
        assert_eq!(DRIVE_CORE_CHECKS.to_vec(), all);
    }

    #[test]
    fn drive_core_skips_exactly_what_it_never_judges() {
        let options = drive_core_options();
        for i in Invariant::ALL {
            let never = !DRIVE_CORE_CHECKS.contains(&i.id());
            assert_eq!(!options.judges(i), never, "{}", i.id());
        }
        // the replay and the five trace-time progress properties
        let skipped = Invariant::ALL
            .iter()
            .filter(|i| !options.judges(**i))
            .count();
        assert_eq!(skipped, 7);
    }

    #[test]
    fn drive_scenario_lists_the_progress_properties() {
        use cobrowse_visitor_conformance::liveness::Property;
        let all = [
            Property::Agreement,
            Property::Init,
            Property::Presence,
            Property::SessionResolves,
            Property::GuestCount,
            Property::BackgroundSuspend,
            Property::RestartTransparent,
        ];
        let ids: Vec<&str> = all.iter().map(|p| p.id()).collect();
        assert_eq!(DRIVE_SCENARIO_PROGRESS.to_vec(), ids);
    }

    #[test]
    fn drive_scenario_lists_the_transcript_invariants_and_determinism() {
        let mut expected: Vec<&str> = Invariant::ALL
            .iter()
            .filter(|i| i.kind() != InvariantKind::Machine)
            .map(|i| i.id())
            .collect();
        expected.push(Invariant::Deterministic.id());
        assert_eq!(DRIVE_SCENARIO_CHECKS.to_vec(), expected);
        assert_eq!(
            Invariant::from_id(DECODE_FRAME_CHECKS[0]),
            Some(Invariant::RefusedUnchanged)
        );
    }
}
