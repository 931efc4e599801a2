//! Running a proptest-state-machine test with this suite's conventions: case counts from
//! `PROPTEST_CASES`, quiet shrinking, a final minimisation, and the failing world case written
//! to `proptest-regressions/` as a contract scenario.

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
