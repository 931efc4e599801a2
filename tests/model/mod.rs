//! The model-based test suite, laid out by role (Firezone-style):
//!
//! - [`reference`]: the reference model, written from spec.md;
//! - [`sut`]: the real machines, projected into the model's terms, and the harnesses;
//! - [`transition`]: the input alphabets;
//! - [`strategies`]: the generators;
//! - [`machines`]: the proptest-state-machine glue;
//! - [`invariants`]: one property per invariant ID of spec.md §10;
//! - [`properties`]: serde round trips of every frame, input and output;
//! - [`oracle_edges`]: the oracle on hand-written violating traces (what generated, correct
//!   traces never show).
//!
//! Case counts come from `PROPTEST_CASES` (default 256, as CI exports; use at least 64, the
//! reach minima are shares of the cases). With N cases: `world_follows_model`,
//! `sdk_follows_model` and `controller_follows_model` run N sequences of up to 48, 64 and 48
//! transitions; each `inv_…` property runs N cases (the machine-level ones twice N: core and
//! controller, or core and world); the serde round trip runs 4·N; `reach_report` samples
//! max(N, 256) world cases from a fixed seed.
//!
//! A failing case is shrunk by proptest, then once more by deleting every transition whose
//! removal keeps it failing. A world case prints as the contract's JSON Lines (which
//! `cobrowse run` plays) and is written to `proptest-regressions/<test>.jsonl`, replayed by
//! `regressions_replay` (commit it); proptest's seeds go to `proptest-regressions/<test>.txt`.

#![allow(dead_code)]

pub mod invariants;
pub mod machines;
pub mod oracle_edges;
pub mod properties;
pub mod reference;
pub mod strategies;
pub mod sut;
pub mod transition;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, FileFailurePersistence, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::sync::Once;

/// `PROPTEST_CASES`, or 256.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// A runner configuration with `cases` cases and seeds kept in `file`.
pub fn config(cases: u32, file: &'static str) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        max_shrink_iters: 10_000,
        ..Config::default()
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Ends a quiet section; a panic that escapes it (one proptest did not catch, e.g. in a
/// generator) is printed after all.
struct Loud;

impl Drop for Loud {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
        if std::thread::panicking() {
            LAST_PANIC.with(|m| eprintln!("panicked outside a test case: {}", m.borrow()));
        }
    }
}

/// Runs `f` with panic messages of this thread silenced (proptest catches the panics of every
/// failing case and shrink step; only the final report matters).
pub fn quiet<R>(f: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                LAST_PANIC.with(|m| *m.borrow_mut() = info.to_string());
            } else {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let _loud = Loud;
    f()
}

/// Runs a state-machine test with our runner; on failure, `report` turns the shrunk case into
/// a reproduction (written to `proptest-regressions/<name>.jsonl` when it is a scenario).
pub fn run_state_machine<M>(
    name: &str,
    file: &'static str,
    cases: u32,
    max_len: usize,
    report: impl Fn(
        &<M::Reference as ReferenceStateMachine>::State,
        &[<M::Reference as ReferenceStateMachine>::Transition],
    ) -> Option<String>,
) where
    M: StateMachineTest,
    <M::Reference as ReferenceStateMachine>::State: Clone + Debug + 'static,
    <M::Reference as ReferenceStateMachine>::Transition: Clone + Debug + 'static,
{
    let cfg = config(cases, file);
    let mut runner = TestRunner::new(cfg.clone());
    let strategy = M::Reference::sequential_strategy(1..=max_len);
    let result = quiet(|| {
        runner.run(&strategy, |(init, transitions, seen)| {
            M::test_sequential(cfg.clone(), init, transitions, seen);
            Ok(())
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Abort(why)) => panic!("{name}: aborted: {why}"),
        Err(TestError::Fail(why, (init, transitions, _))) => {
            let transitions = minimize::<M>(&cfg, &init, transitions);
            let repro = report(&init, &transitions);
            if let Some(text) = &repro {
                let path = format!("proptest-regressions/{name}.jsonl");
                if std::fs::write(&path, text).is_ok() {
                    eprintln!("{name}: the shrunk scenario is in {path}");
                }
            }
            panic!(
                "{name}: {} transitions after shrinking: {why}\n-- reproduction:\n{}",
                transitions.len(),
                repro.unwrap_or_else(|| format!("{transitions:#?}"))
            );
        }
    }
}

/// A second deletion pass after proptest's shrinking: proptest-state-machine deletes
/// transitions first and simplifies the survivors afterwards, which can turn one into a
/// no-op (a second `launch`, say) that is never deleted. Drops every transition whose removal
/// keeps the case failing, until none can go.
fn minimize<M>(
    cfg: &Config,
    init: &<M::Reference as ReferenceStateMachine>::State,
    mut transitions: Vec<<M::Reference as ReferenceStateMachine>::Transition>,
) -> Vec<<M::Reference as ReferenceStateMachine>::Transition>
where
    M: StateMachineTest,
    <M::Reference as ReferenceStateMachine>::State: Clone + Debug + 'static,
    <M::Reference as ReferenceStateMachine>::Transition: Clone + Debug + 'static,
{
    let fails = |ts: &[<M::Reference as ReferenceStateMachine>::Transition]| {
        let (cfg, init, ts) = (cfg.clone(), init.clone(), ts.to_vec());
        quiet(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                M::test_sequential(cfg, init, ts, None)
            }))
            .is_err()
        })
    };
    let mut changed = true;
    while changed {
        changed = false;
        let mut i = 0;
        while i < transitions.len() {
            let mut fewer = transitions.clone();
            fewer.remove(i);
            if fails(&fewer) {
                transitions = fewer;
                changed = true;
            } else {
                i += 1;
            }
        }
    }
    transitions
}

/// Draws `n` values of `strategy` from a fixed seed (for reports that must not vary).
pub fn sample<S: Strategy>(strategy: &S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategies here never reject")
                .current()
        })
        .collect()
}

/// A share as a percentage string.
pub fn pct(n: u32, of: u32) -> String {
    format!("{:5.1} %", f64::from(n) * 100.0 / f64::from(of.max(1)))
}
