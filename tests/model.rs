//! Model-based tests: the real machines against a reference model written from spec.md, with
//! the invariant oracle run over the transcript after every transition. See `model/mod.rs`.
//!
//! `cargo test --test model -- --nocapture reach_report` prints the share of generated world
//! cases that reach each deep state.

#[path = "model/mod.rs"]
mod model;

use cobrowse_visitor_conformance::transcript::{parse_scenario, Step};
use model::machines::{CtlTest, SdkTest, WorldRef, WorldTest};
use model::reference::{CIdentity, MPhase, MPresence, MSession, MTerms};
use model::sut::{jsonl, WorldSut};
use model::transition::WorldModel;
use model::{cases, pct, run_state_machine, sample};
use proptest_state_machine::ReferenceStateMachine;

/// Longest generated world case, in steps.
const WORLD_LEN: usize = 48;

/// The shrunk world case as a contract scenario (config line first).
fn scenario(
    init: &WorldModel,
    transitions: &[model::transition::WorldTransition],
) -> Option<String> {
    let mut m = init.clone();
    for t in transitions {
        m = m.apply(t);
    }
    Some(jsonl(&m.steps))
}

/// The world (controller + SDK core + simulated server and agent) follows the model step by
/// step: the same transcript records, the same states; the oracle finds nothing.
#[test]
fn world_follows_model() {
    run_state_machine::<WorldTest>(
        "world_follows_model",
        "proptest-regressions/world_follows_model.txt",
        cases(),
        WORLD_LEN,
        scenario,
    );
}

/// The SDK core alone, fed raw inputs (misused calls, frames out of order, time backwards),
/// follows the model input by input: results, outputs, states and spec rows.
#[test]
fn sdk_follows_model() {
    run_state_machine::<SdkTest>(
        "sdk_follows_model",
        "proptest-regressions/sdk_follows_model.txt",
        cases(),
        64,
        |_, _| None,
    );
}

/// The same from a core with presence connected for a visitor id, under every §3.3a
/// configuration: the one-click, agent-start, presence-data and send-fail rows at depth.
#[test]
fn sdk_follows_model_from_presence() {
    run_state_machine::<model::machines::SdkConnectedTest>(
        "sdk_follows_model_from_presence",
        "proptest-regressions/sdk_follows_model_from_presence.txt",
        cases(),
        40,
        |_, _| None,
    );
}

/// The controller alone, fed user intents and any SDK event in any order, follows the model.
#[test]
fn controller_follows_model() {
    run_state_machine::<CtlTest>(
        "controller_follows_model",
        "proptest-regressions/controller_follows_model.txt",
        cases(),
        48,
        |_, _| None,
    );
}

/// Deep states a world case can reach.
const REACH: [&str; 11] = [
    "launched and initialized",
    "logged in",
    "presence connected",
    "terms pending",
    "session running",
    "one-click session running",
    "session ending",
    "backgrounded",
    "offline",
    "presence suspended",
    "terminated",
];

fn reached(m: &WorldModel) -> [bool; 11] {
    let w = &m.world;
    let ready = w.sdk.ready();
    let session = ready.map(|r| &r.session);
    let presence = ready.map(|r| &r.presence);
    [
        ready.is_some() && w.ctl.app().is_some(),
        w.ctl
            .app()
            .is_some_and(|a| matches!(a.identity, CIdentity::LoggedIn(_))),
        matches!(presence, Some(MPresence::Connected(_))),
        matches!(
            presence,
            Some(MPresence::Connected(
                MTerms::Shown(_) | MTerms::Displayed(_)
            ))
        ),
        matches!(session, Some(MSession::Running { .. })),
        matches!(
            session,
            Some(MSession::Running {
                keytype: cobrowse_visitor_core::KeyType::VisitorId,
                ..
            })
        ),
        matches!(session, Some(MSession::Ending(_))),
        w.sdk.background,
        w.sdk.link_down.is_some(),
        matches!(presence, Some(MPresence::Suspended)),
        w.sdk.phase == MPhase::Terminated,
    ]
}

/// Minimum shares (percent of cases) the world generator must reach; a regression in the
/// generators fails here.
const REACH_MIN: [f64; 11] = [
    85.0, 60.0, 55.0, 35.0, 60.0, 15.0, 12.0, 60.0, 55.0, 7.0, 18.0,
];

/// Relaunches (spec.md §13.2) a world case can make, by what the core's session was at the
/// relaunch: §5.6 drops a starting session, S-R04 keeps an ending one, S-R01 a running one;
/// and one where only the service still had a session (the app exited offline, §13).
const RELAUNCH_REACH: [&str; 4] = [
    "relaunched while running",
    "relaunched while starting",
    "relaunched while ending",
    "relaunched, service only",
];

/// Minimum shares (percent of cases) of [`RELAUNCH_REACH`].
const RELAUNCH_REACH_MIN: [f64; 4] = [20.0, 1.5, 2.0, 0.4];

fn relaunch_reached(m: &WorldModel, t: &model::transition::WorldTransition) -> [bool; 4] {
    if !matches!(m.resolve(t), Step::Relaunch { .. }) {
        return [false; 4];
    }
    let session = m.world.sdk.ready().map(|r| &r.session);
    [
        matches!(session, Some(MSession::Running { .. })),
        matches!(session, Some(MSession::Starting(..))),
        matches!(session, Some(MSession::Ending(_))),
        matches!(session, Some(MSession::Idle) | None) && m.world.server.session.is_some(),
    ]
}

/// Prints the share of generated world cases that reach each deep state, and that relaunch
/// in each session state (cases drawn from a fixed seed, as many as the model test runs, at
/// least 256), and asserts the minimum shares.
#[test]
fn reach_report() {
    // the model alone, from a fixed seed: cheap, so never fewer than 256 cases
    let n = cases().max(256);
    let strategy = WorldRef::sequential_strategy(1..=WORLD_LEN);
    let mut counts = [0u32; 11];
    let mut relaunch_counts = [0u32; 4];
    let mut steps = 0usize;
    for (init, transitions, _) in sample(&strategy, n) {
        let mut m = init;
        let mut seen = reached(&m);
        let mut relaunched = [false; 4];
        for t in &transitions {
            for (s, r) in relaunched.iter_mut().zip(relaunch_reached(&m, t)) {
                *s |= r;
            }
            m = m.apply(t);
            for (s, r) in seen.iter_mut().zip(reached(&m)) {
                *s |= r;
            }
        }
        steps += transitions.len();
        for (c, s) in counts.iter_mut().zip(seen) {
            *c += u32::from(s);
        }
        for (c, s) in relaunch_counts.iter_mut().zip(relaunched) {
            *c += u32::from(s);
        }
    }
    println!("reach report: {n} world cases, {steps} steps");
    let all = || {
        REACH.iter().zip(counts).zip(REACH_MIN).chain(
            RELAUNCH_REACH
                .iter()
                .zip(relaunch_counts)
                .zip(RELAUNCH_REACH_MIN),
        )
    };
    for ((name, c), min) in all() {
        println!("  {name:<28} {}  (min {min} %)", pct(c, n));
    }
    for ((name, c), min) in all() {
        let share = f64::from(c) * 100.0 / f64::from(n.max(1));
        assert!(
            share >= min,
            "only {share:.1} % of world cases reach `{name}` (minimum {min} %)"
        );
    }
}

/// Every scenario kept in `proptest-regressions/*.jsonl` (a shrunk failure of the world test)
/// still follows the model, with no oracle violation.
#[test]
fn regressions_replay() {
    let Ok(dir) = std::fs::read_dir("proptest-regressions") else {
        return;
    };
    let mut paths: Vec<_> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable");
        let steps = parse_scenario(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        replay(&steps);
    }
}

/// Plays a scenario through the model and the real world side by side.
pub fn replay(steps: &[Step]) {
    let (custom_ui, seed) = match steps.first() {
        Some(Step::Config(c)) => (c.custom_ui, c.seed),
        _ => (true, 7),
    };
    let mut m = model::machines::world_start(custom_ui, seed, true, Default::default());
    let mut sut = WorldSut::new(&m.steps);
    for s in steps
        .iter()
        .skip(usize::from(matches!(steps.first(), Some(Step::Config(_)))))
    {
        m = m.apply(&model::transition::WorldTransition::Step(s.clone()));
        sut.step(&m.steps, &m.world);
    }
}

/// The SDK generators reach every row issue 14 added (spec.md §5), so `sdk_follows_model` and
/// the properties in `model/invariants.rs` see them: cases drawn from a fixed seed (from a new
/// core, and from presence connected), the model's rows counted. Prints the share of cases
/// that reach each new row, and every §5 row no case reached.
#[test]
fn sdk_rows_reached() {
    use cobrowse_visitor_core::Row;
    use model::machines::{SdkConnectedRef, SdkRef};
    use std::collections::BTreeMap;
    const NEW: [Row; 17] = [
        Row::SA26,
        Row::SA44,
        Row::SA45,
        Row::SA46,
        Row::SA58,
        Row::SA70,
        Row::SA71,
        Row::SA72,
        Row::SA80,
        Row::SA81,
        Row::SF21b,
        Row::SF24,
        Row::SF25,
        Row::SF26,
        Row::SF27,
        Row::ST06c,
        Row::ST07,
    ];
    let n = cases().max(256);
    let mut counts: BTreeMap<Row, u32> = BTreeMap::new();
    let mut tally = |init: model::transition::SdkModel,
                     transitions: Vec<model::transition::SdkTransition>| {
        let mut m = init;
        let mut seen = std::collections::BTreeSet::new();
        for t in &transitions {
            m = m.apply(t);
            for (_, _, step) in &m.last {
                seen.extend(step.rows.iter().copied());
            }
        }
        for r in seen {
            *counts.entry(r).or_default() += 1;
        }
    };
    for (init, transitions, _) in sample(&SdkRef::sequential_strategy(1..=64), n) {
        tally(init, transitions);
    }
    for (init, transitions, _) in sample(&SdkConnectedRef::sequential_strategy(1..=40), n) {
        tally(init, transitions);
    }
    println!("SDK rows: {} cases", 2 * n);
    for r in NEW {
        println!(
            "  {:<6} {}",
            r.id(),
            pct(counts.get(&r).copied().unwrap_or(0), 2 * n)
        );
    }
    let never: Vec<&str> = Row::ALL
        .iter()
        .filter(|r| r.is_sdk() && !counts.contains_key(r))
        .map(|r| r.id())
        .collect();
    println!("  §5 rows no case reached: {never:?}");
    let missing: Vec<&str> = NEW
        .iter()
        .filter(|r| !counts.contains_key(r))
        .map(|r| r.id())
        .collect();
    assert!(
        missing.is_empty(),
        "new rows no generated case reaches: {missing:?}"
    );
}
