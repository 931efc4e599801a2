//! Issue 14's invariants (spec.md §10.2) as `cobrowse check` judges them, by ID: each one's
//! violating trace in `traces/` is flagged with exactly that ID (`check` exits 1 on it), its
//! clean counterpart in `traces/clean/` and the seed journey of its path in `scenarios/`
//! check clean. (The oracle's own tests are in `conformance/`; this file names the IDs where
//! `../shared/tools/spec-coverage` looks for them, and uses only the conformance crate, so it
//! runs without the testkit.)

use cobrowse_visitor_conformance::oracle::{interleave, read_trace, Invariant};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace};
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The IDs `check` names on a trace file (read by the contract's reading rules).
fn flagged(file: &str) -> BTreeSet<&'static str> {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines = parse_trace(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    read_trace(&lines)
        .unwrap_or_else(|e| panic!("{file}: unusable: {e}"))
        .iter()
        .map(|v| v.invariant.id())
        .collect()
}

/// The IDs `check` names on a seed journey played by the simulator, interleaved.
fn journey(name: &str) -> BTreeSet<&'static str> {
    let file = format!("scenarios/{name}.jsonl");
    let text =
        std::fs::read_to_string(root().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let steps = parse_scenario(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let records = World::run(&steps).expect("the world settles");
    let lines: Vec<_> = interleave(&steps, &records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    read_trace(&lines)
        .expect("usable")
        .iter()
        .map(|v| v.invariant.id())
        .collect()
}

/// `id`'s violating trace is flagged with exactly `id`, its clean counterpart and `journeys`
/// with nothing.
fn holds(id: &str, journeys: &[&str]) {
    assert!(Invariant::from_id(id).is_some(), "{id}: not an oracle ID");
    assert_eq!(
        flagged(&format!("traces/{id}.jsonl")),
        BTreeSet::from([Invariant::from_id(id).map_or("", |i| i.id())]),
        "traces/{id}.jsonl"
    );
    assert!(
        flagged(&format!("traces/clean/{id}.jsonl")).is_empty(),
        "traces/clean/{id}.jsonl"
    );
    for j in journeys {
        assert!(
            journey(j).is_empty(),
            "scenarios/{j}.jsonl: {:?}",
            journey(j)
        );
    }
}

#[test]
fn inv_consent_policy() {
    holds(
        "INV-CONSENT-POLICY",
        &["agent_start_terms_required", "agent_start_both_opted_in"],
    );
}

#[test]
fn inv_connect_attempts() {
    holds("INV-CONNECT-ATTEMPTS", &["connect_max_attempts"]);
}

#[test]
fn inv_not_configured() {
    holds("INV-NOT-CONFIGURED", &["group_without_presence"]);
}

#[test]
fn inv_presence_data() {
    holds("INV-PRESENCE-DATA", &["presence_data_across_loss"]);
}

#[test]
fn inv_send_fail_refuses() {
    holds("INV-SEND-FAIL-REFUSES", &["signal_while_offline_send_fail"]);
}

#[test]
fn the_other_new_journeys_check_clean() {
    for j in ["agent_custom_signal", "web_compatible_visitor_id"] {
        assert!(
            journey(j).is_empty(),
            "scenarios/{j}.jsonl: {:?}",
            journey(j)
        );
    }
}
