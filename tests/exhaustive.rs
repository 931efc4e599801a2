//! Bounded exhaustive exploration: every scenario of up to `EXHAUSTIVE_DEPTH` steps over the
//! finite alphabet of the testkit's `explore` (18 letters: user intents, agent actions, lifecycle,
//! network, "advance to the next deadline", "advance 60 s"), breadth first, states
//! deduplicated. On every step explored:
//!
//! - the real world follows the reference model (the testkit's `reference`): the same records, the
//!   same SDK, controller and server states;
//! - the one invariant oracle finds no violation in the transcript so far (interleaved with
//!   its scenario lines, so every invariant is judged, INV-CONTROLLER-CALLS-ACCEPTED included:
//!   the alphabet has no direct `api` steps);
//! - a refused user intent leaves the controller as it was (INV-REFUSED-UNCHANGED);
//! - INV-AGREEMENT holds, and from the state reached the heal suffix delivers every liveness
//!   property (LIVE-INIT, LIVE-PRESENCE, LIVE-SESSION-RESOLVES, LIVE-GUEST-COUNT) and the
//!   background suffix LIVE-BACKGROUND-SUSPEND (spec.md §10.4).
//!
//! CI runs it at depth 10 in debug (8 without custom UI). The deep run, in release:
//! `EXHAUSTIVE_DEPTH=12 cargo test --release --test exhaustive -- --nocapture`.
//! (Times are printed, never asserted.)

use cobrowse_visitor_testkit::{explore, reference, sut};

use cobrowse_visitor_conformance::liveness;
use cobrowse_visitor_conformance::oracle::machine;
use cobrowse_visitor_conformance::transcript::{ScenarioConfig, Step};
use explore::{explore, Explored};
use reference::MWorld;
use std::time::Instant;
use sut::{compare, TraceCheck};

/// Depth in CI (debug build) unless `EXHAUSTIVE_DEPTH` says otherwise.
const CI_DEPTH: usize = 10;

#[derive(Clone)]
struct Walk {
    model: MWorld,
    check: TraceCheck,
    steps: usize,
}

fn run(custom_ui: bool, depth: usize) -> Explored {
    let config = ScenarioConfig {
        custom_ui,
        ..ScenarioConfig::default()
    };
    let first = Step::Config(config.clone());
    let mut root = Walk {
        model: MWorld::new(config.group_id, custom_ui),
        check: TraceCheck::default(),
        steps: 1,
    };
    root.model.apply(0, &first);
    root.check.step(&first);
    explore(
        &config,
        depth,
        root,
        |walk, before, step, after, records| {
            if let Step::User(intent) = step {
                let mut c = before.controller().clone();
                let was = c.state().clone();
                let result = c.handle_user(intent.clone());
                if let Some(v) = machine::controller_refused_unchanged(&was, c.state(), &result) {
                    return Err(v.to_string());
                }
            }
            walk.model.apply(walk.steps, step);
            walk.steps += 1;
            compare(after, records, &walk.model)?;
            walk.check.step(step);
            for r in records {
                walk.check.record(r);
            }
            let v = walk.check.violations();
            if !v.is_empty() {
                return Err(v.iter().map(|v| format!("{v}\n")).collect());
            }
            // agreement and progress (spec.md §10.4) from every state reached
            if let Some(f) = liveness::agreement(after) {
                return Err(f.to_string());
            }
            let found = liveness::heal_and_judge(after, walk.steps).map_err(|e| e.to_string())?;
            match found.first() {
                None => Ok(()),
                Some(f) => Err(format!("{f} (after the heal suffix)")),
            }
        },
        |_, _| {},
    )
}

fn depth() -> usize {
    std::env::var("EXHAUSTIVE_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(CI_DEPTH)
}

/// Every scenario up to the depth, custom UI on (the contract's default).
#[test]
fn exhaustive_custom_ui() {
    let depth = depth();
    let t = Instant::now();
    let e = run(true, depth);
    println!(
        "exhaustive (custom_ui): depth {}, {} states, {} steps explored, {:.1} s; new states per depth {:?}",
        e.depth,
        e.states,
        e.edges,
        t.elapsed().as_secs_f64(),
        e.per_depth
    );
    assert!(e.states > 1);
}

/// The same without custom UI (the SDK's default UI stays on), to a smaller depth.
#[test]
fn exhaustive_default_ui() {
    let depth = depth().saturating_sub(2).max(1);
    let t = Instant::now();
    let e = run(false, depth);
    println!(
        "exhaustive (default ui): depth {}, {} states, {} steps explored, {:.1} s",
        e.depth,
        e.states,
        e.edges,
        t.elapsed().as_secs_f64()
    );
    assert!(e.states > 1);
}
