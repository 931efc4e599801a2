//! How accurately `cobrowse check` (the oracle behind it, read by the contract's reading
//! rules) judges, measured on generated worlds rather than asserted by example:
//!
//! - **recall**: each buggy integration of `cobrowse_visitor_conformance::bugs` plays the
//!   same generated scenario as the correct one; wherever its transcript differs from the
//!   correct one's (the bug showed), `check` must name the bug's invariant;
//! - **precision**: over the same worlds, the correct integration is never flagged;
//! - **two readers**: every simulated transcript gives the same verdicts read plain (after
//!   its config line, or records only) and interleaved, on the invariants a plain trace can
//!   judge (records only, INV-GROUP-STABLE's reference is the first init's group id, not the
//!   config's: the same verdicts wherever those agree);
//! - **mutations**: single-record mutations of clean transcripts are flagged, refused as
//!   unusable, or provably harmless (the mutant is a transcript the simulated world itself
//!   writes for some scenario, here: equal to the original, or to the original with the
//!   scenario the mutation implies).
//!
//! The table in `ACCURACY.md` is what this suite measures; `accuracy_table_is_current`
//! keeps it true. PROPTEST_CASES (CI: 256) sets the number of generated worlds.

use cobrowse_visitor_conformance::bugs::Bug;
use cobrowse_visitor_conformance::oracle::{
    check_records, interleave, read_trace, read_trace_with, CheckOptions, Invariant,
};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{
    AgentAction, Observed, Record, ScenarioConfig, Step, TraceLine, WireFrame,
};
use cobrowse_visitor_core::{Lifecycle, NetworkChange, UserIntent};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::{BTreeMap, BTreeSet};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

/// One scenario step an app's customer, agent, device or clock takes.
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::User(UserIntent::TapCobrowse)),
        3 => prop_oneof![Just("cust-42"), Just("cust-7")].prop_map(|id| Step::User(UserIntent::Login {
            visitor_id: id.to_owned()
        })),
        3 => Just(Step::User(UserIntent::AcceptTerms)),
        1 => Just(Step::User(UserIntent::DeclineTerms)),
        2 => Just(Step::User(UserIntent::EndSession)),
        2 => Just(Step::User(UserIntent::Logout)),
        1 => Just(Step::User(UserIntent::Exit)),
        1 => Just(Step::User(UserIntent::Launch)),
        2 => Just(Step::Lifecycle(Lifecycle::Background)),
        2 => Just(Step::Lifecycle(Lifecycle::Foreground)),
        1 => Just(Step::Network(NetworkChange::Lost)),
        1 => Just(Step::Network(NetworkChange::Restored)),
        4 => Just(Step::Agent(AgentAction::StartPresenceSession)),
        2 => Just(Step::Agent(AgentAction::Join)),
        1 => Just(Step::Agent(AgentAction::Leave)),
        1 => Just(Step::Agent(AgentAction::EndSession)),
        2 => prop_oneof![Just(1_000u64), Just(16_000), Just(61_000)].prop_map(Step::AdvanceMs),
    ]
}

/// A step, or a one-click journey (login, the agent's click, the customer's answer), which
/// single random steps rarely line up.
fn chunk() -> impl Strategy<Value = Vec<Step>> {
    prop_oneof![
        4 => step().prop_map(|s| vec![s]),
        1 => prop::bool::weighted(0.8).prop_map(|accept| vec![
            Step::User(UserIntent::Login { visitor_id: "cust-42".to_owned() }),
            Step::Agent(AgentAction::StartPresenceSession),
            Step::User(if accept { UserIntent::AcceptTerms } else { UserIntent::DeclineTerms }),
        ]),
    ]
}

/// A generated world: a config, a launch, then up to 24 steps.
fn scenario() -> impl Strategy<Value = Vec<Step>> {
    (
        prop::bool::weighted(0.85),
        any::<u8>(),
        prop::collection::vec(chunk(), 1..12).prop_map(|c| c.concat()),
    )
        .prop_map(|(custom_ui, seed, rest)| {
            let mut steps = vec![
                Step::Config(ScenarioConfig {
                    custom_ui,
                    seed: u64::from(seed),
                    ..ScenarioConfig::default()
                }),
                Step::User(UserIntent::Launch),
            ];
            steps.extend(rest);
            steps
        })
}

fn numbered(lines: Vec<TraceLine>) -> Vec<(usize, TraceLine)> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// `check`'s verdict on the interleaved trace: the invariants named, or `None` if unusable.
fn verdict(steps: &[Step], records: &[Record]) -> Option<BTreeSet<Invariant>> {
    read_trace(&numbered(interleave(steps, records)))
        .ok()
        .map(|v| v.into_iter().map(|v| v.invariant).collect())
}

/// Per invariant: worlds where a bug aimed at it showed, and how many were flagged with it;
/// flags of it on the correct integration.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    showed: u64,
    named: u64,
    /// Worlds where the bug showed but the contract's rule does not speak of what it
    /// changed ([`contract_silent`]): not counted in `showed`.
    silent: u64,
    false_alarms: u64,
}

fn measure(cases: u32) -> (BTreeMap<Invariant, Tally>, Vec<String>) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tallies = std::cell::RefCell::new(BTreeMap::<Invariant, Tally>::new());
    let misses = std::cell::RefCell::new(Vec::<String>::new());
    let result = runner.run(&scenario(), |steps| {
        let Ok(correct) = World::run(&steps) else {
            return Ok(());
        };
        let clean = verdict(&steps, &correct).expect("a simulated trace is usable");
        let mut t = tallies.borrow_mut();
        for inv in &clean {
            t.entry(*inv).or_default().false_alarms += 1;
        }
        for bug in Bug::ALL {
            let Ok(buggy) = bug.run(&steps) else { continue };
            if buggy == correct {
                continue; // the bug did not show in this world
            }
            let e = t.entry(bug.target()).or_default();
            e.showed += 1;
            let got = verdict(&steps, &buggy).unwrap_or_default();
            if got.contains(&bug.target()) {
                e.named += 1;
            } else if let Some(why) = contract_silent(bug, &steps, &correct, &buggy) {
                e.showed -= 1;
                e.silent += 1;
                let _ = why;
            } else {
                misses
                    .borrow_mut()
                    .push(format!("{bug:?}: {got:?} on {steps:?}"));
            }
        }
        Ok(())
    });
    assert!(result.is_ok(), "{result:?}");
    (tallies.into_inner(), misses.into_inner())
}

/// Why a bug that showed in a world is, by the contract's own wording, no violation of its
/// invariant there (decided from the transcripts, never from the verdict):
/// - `NoDisplayed` with no terms answer in the buggy trace (none the SDK accepted):
///   INV-TERMS-ORDER orders `displayed` before an answer; with no answer it asks nothing;
/// - `NoDisconnectOnLogout` / `NoDisconnectOnExit` where presence was not connected at that
///   step in the correct trace (no `EventPresenceConnected` since the last
///   `EventPresenceDisconnected` / `presence_disconnect`): INV-DISCONNECT-ON-LOGOUT asks for a
///   disconnect only while presence is connected (the controller disconnects a connecting
///   presence too, which the contract leaves to the app).
fn contract_silent(
    bug: Bug,
    steps: &[Step],
    correct: &[Record],
    buggy: &[Record],
) -> Option<&'static str> {
    match bug {
        Bug::NoDisplayed => {
            // an answer the SDK refused (an `error` record right after it: presence went down,
            // suspended in the background, say) is no answer either
            let answered = buggy.iter().enumerate().any(|(i, r)| {
                matches!(&r.observed, Observed::Api(cobrowse_visitor_core::ApiCall::PresenceSignalAgent { map, .. }) if map.get("status").is_some_and(|s| s == "accepted" || s == "declined"))
                    && !buggy.get(i + 1).is_some_and(|n| {
                        n.step == r.step
                            && match &n.observed {
                                Observed::Error(_) => true,
                                Observed::Event(e) => {
                                    e.code() == "EventPresenceSendFail"
                                        || e.code() == "EventInvalidState"
                                }
                                _ => false,
                            }
                    })
            });
            (!answered).then_some("no terms answer")
        }
        Bug::NoDisconnectOnLogout | Bug::NoDisconnectOnExit => {
            let want = if bug == Bug::NoDisconnectOnLogout {
                UserIntent::Logout
            } else {
                UserIntent::Exit
            };
            let mut connected = false;
            let mut at_duty = false;
            let mut step_idx = usize::MAX;
            for r in correct {
                if r.step != step_idx {
                    step_idx = r.step;
                    if steps.get(step_idx) == Some(&Step::User(want.clone())) && connected {
                        at_duty = true;
                    }
                }
                match &r.observed {
                    Observed::Event(e) if e.code() == "EventPresenceConnected" => connected = true,
                    Observed::Event(e) if e.code() == "EventPresenceDisconnected" => {
                        connected = false
                    }
                    Observed::Api(cobrowse_visitor_core::ApiCall::PresenceDisconnect) => {
                        connected = false
                    }
                    _ => {}
                }
            }
            (!at_duty).then_some("presence not connected at the logout/exit")
        }
        _ => None,
    }
}

/// The table of `ACCURACY.md`.
fn table(t: &BTreeMap<Invariant, Tally>) -> String {
    let mut out =
        String::from("| invariant | bugs | recall | precision |\n| --- | --- | --- | --- |\n");
    for inv in Invariant::ALL
        .iter()
        .filter(|i| i.kind() == cobrowse_visitor_conformance::oracle::InvariantKind::Contract)
    {
        let bugs = Bug::ALL.iter().filter(|b| b.target() == *inv).count();
        let x = t.get(inv).copied().unwrap_or_default();
        let percent = |part: u64, whole: u64| {
            (part * 100)
                .checked_div(whole)
                .map_or_else(|| "—".to_owned(), |p| format!("{p} %"))
        };
        let recall = percent(x.named, x.showed);
        let precision = percent(x.named, x.named + x.false_alarms);
        out.push_str(&format!(
            "| {} | {bugs} | {recall} | {precision} |\n",
            inv.id()
        ));
    }
    out
}

#[test]
fn every_contract_invariant_has_two_buggy_integrations() {
    for inv in Invariant::ALL
        .iter()
        .filter(|i| i.kind() == cobrowse_visitor_conformance::oracle::InvariantKind::Contract)
    {
        let n = Bug::ALL.iter().filter(|b| b.target() == *inv).count();
        assert!(n >= 2, "{}: {n} buggy integrations", inv.id());
    }
}

#[test]
fn recall_and_precision_are_total() {
    let (t, misses) = measure(cases());
    let report = table(&t);
    eprintln!("{report}");
    assert!(misses.is_empty(), "missed:\n{}", misses.join("\n"));
    for (inv, x) in &t {
        assert_eq!(
            x.false_alarms,
            0,
            "{}: false alarms on the correct integration",
            inv.id()
        );
    }
    for bug in Bug::ALL {
        let x = t.get(&bug.target()).copied().unwrap_or_default();
        assert!(x.showed > 0, "{bug:?}: never showed in {} worlds", cases());
    }
    // The committed report says the same (all 100 %).
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ACCURACY.md"))
        .expect("ACCURACY.md");
    assert!(
        committed.contains(&report),
        "ACCURACY.md is not current:\n{report}"
    );
}

/// The invariants a plain trace (records only) can judge: those that need no scenario line.
fn plain_judged(v: &BTreeSet<Invariant>) -> BTreeSet<Invariant> {
    v.iter().copied().filter(|i| !i.needs_scenario()).collect()
}

#[test]
fn the_two_readers_agree() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&scenario(), |steps| {
        for bug in [None].into_iter().chain(Bug::ALL.into_iter().map(Some)) {
            let records = match bug {
                None => World::run(&steps),
                Some(b) => b.run(&steps),
            };
            let Ok(records) = records else { continue };
            let interleaved = verdict(&steps, &records).expect("usable");
            let plain: BTreeSet<Invariant> = read_trace(&numbered(
                records.iter().cloned().map(TraceLine::Record).collect(),
            ))
            .expect("a plain trace is usable")
            .into_iter()
            .map(|v| v.invariant)
            .collect();
            let in_memory: BTreeSet<Invariant> = check_records(&records)
                .into_iter()
                .map(|v| v.invariant)
                .collect();
            prop_assert_eq!(&plain, &in_memory, "{:?}", bug);
            // a plain trace after the config line: the same verdicts as interleaved
            let with_config: BTreeSet<Invariant> = read_trace(&numbered(
                steps
                    .first()
                    .cloned()
                    .map(TraceLine::Step)
                    .into_iter()
                    .chain(records.iter().cloned().map(TraceLine::Record))
                    .collect(),
            ))
            .expect("a plain trace after a config line is usable")
            .into_iter()
            .map(|v| v.invariant)
            .collect();
            prop_assert_eq!(
                plain_judged(&interleaved),
                plain_judged(&with_config),
                "{:?}: {:?}",
                bug,
                steps
            );
            // records only: no config names the group, so INV-GROUP-STABLE's reference is the
            // first accepted init's group id; where that is the config's, the same verdicts
            let first_group = records.iter().find_map(|r| match &r.observed {
                Observed::Api(cobrowse_visitor_core::ApiCall::InitVisitor(p)) => Some(p.group_id),
                _ => None,
            });
            let config_group = match steps.first() {
                Some(Step::Config(c)) => c.group_id,
                _ => ScenarioConfig::default().group_id,
            };
            if first_group.is_none_or(|g| g == config_group) {
                prop_assert_eq!(plain_judged(&interleaved), plain, "{:?}: {:?}", bug, steps);
            } else {
                let but_group = |v: BTreeSet<Invariant>| -> BTreeSet<Invariant> {
                    v.into_iter()
                        .filter(|i| *i != Invariant::GroupStable)
                        .collect()
                };
                prop_assert_eq!(
                    but_group(plain_judged(&interleaved)),
                    but_group(plain),
                    "{:?}: {:?}",
                    bug,
                    steps
                );
            }
        }
        Ok(())
    });
    assert!(result.is_ok(), "{result:?}");
}

/// One single-record mutation of an interleaved trace.
#[derive(Clone, Debug)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize),
    MoveStep(usize, bool),
    ChangeKey(usize),
    ChangeVisitor(usize),
}

impl Mutation {
    /// The line it mutates.
    fn at(&self) -> usize {
        match *self {
            Mutation::Drop(i)
            | Mutation::Duplicate(i)
            | Mutation::Swap(i)
            | Mutation::MoveStep(i, _)
            | Mutation::ChangeKey(i)
            | Mutation::ChangeVisitor(i) => i,
        }
    }
}

fn apply(lines: &[TraceLine], m: &Mutation) -> Option<Vec<TraceLine>> {
    let mut out = lines.to_vec();
    let rec = |i: usize| matches!(lines.get(i), Some(TraceLine::Record(_)));
    match *m {
        Mutation::Drop(i) if rec(i) => {
            out.remove(i);
        }
        Mutation::Duplicate(i) if rec(i) => out.insert(i, lines[i].clone()),
        Mutation::Swap(i) if rec(i) && rec(i + 1) => out.swap(i, i + 1),
        Mutation::MoveStep(i, up) if rec(i) => {
            if let Some(TraceLine::Record(r)) = out.get_mut(i) {
                r.step = if up {
                    r.step + 1
                } else {
                    r.step.checked_sub(1)?
                };
            }
        }
        Mutation::ChangeKey(i) | Mutation::ChangeVisitor(i) if rec(i) => {
            let key = matches!(m, Mutation::ChangeKey(_));
            let Some(TraceLine::Record(r)) = out.get_mut(i) else {
                return None;
            };
            let mut v = serde_json::to_value(&*r).ok()?;
            let changed = change(&mut v, key);
            if !changed {
                return None;
            }
            *r = serde_json::from_value(v).ok()?;
        }
        _ => return None,
    }
    Some(out)
}

/// Changes a session key (`sessionkey`, a shown `key`, a start's `key`) or a visitor id in a
/// record; whether there was one.
fn change(v: &mut serde_json::Value, key: bool) -> bool {
    let names: &[&str] = if key {
        &["sessionkey", "key"]
    } else {
        &["visitor_id"]
    };
    match v {
        serde_json::Value::Object(m) => {
            let mut any = false;
            for (k, x) in m.iter_mut() {
                if names.contains(&k.as_str()) {
                    if let serde_json::Value::String(s) = x {
                        if s != "GLANCE_KEYTYPE_RANDOM" {
                            s.push('9');
                            any = true;
                        }
                    }
                } else {
                    any |= change(x, key);
                }
            }
            any
        }
        _ => false,
    }
}

#[test]
fn single_record_mutations_are_flagged_refused_or_harmless() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let kinds = (0usize..6, any::<prop::sample::Index>(), any::<bool>());
    let result = runner.run(
        &(scenario(), prop::collection::vec(kinds, 4)),
        |(steps, ms)| {
            let Ok(records) = World::run(&steps) else {
                return Ok(());
            };
            let lines = interleave(&steps, &records);
            for (kind, at, up) in ms {
                let i = at.index(lines.len());
                let m = match kind {
                    0 => Mutation::Drop(i),
                    1 => Mutation::Duplicate(i),
                    2 => Mutation::Swap(i),
                    3 => Mutation::MoveStep(i, up),
                    4 => Mutation::ChangeKey(i),
                    _ => Mutation::ChangeVisitor(i),
                };
                let Some(mutant) = apply(&lines, &m) else {
                    continue;
                };
                let numbered_mutant = numbered(mutant.clone());
                // the simulator's transcripts are the reference controller's
                let options = CheckOptions::default().with_reference_controller(true);
                let Ok(found) = read_trace_with(&numbered_mutant, options) else {
                    continue; // refused as unusable
                };
                if !found.is_empty() || mutant == lines {
                    continue; // flagged, or no change
                }
                // Harmless only if some world writes it: the mutant's records are what the
                // simulated world records for the mutant's own scenario lines.
                let steps_of: Vec<Step> = mutant
                    .iter()
                    .filter_map(|l| match l {
                        TraceLine::Step(s) => Some(s.clone()),
                        TraceLine::Record(_) => None,
                    })
                    .collect();
                let recs_of: Vec<Record> = mutant
                    .iter()
                    .filter_map(|l| match l {
                        TraceLine::Record(r) => Some(r.clone()),
                        TraceLine::Step(_) => None,
                    })
                    .collect();
                let replay = World::run(&steps_of).ok();
                let harmless = replay.as_deref() == Some(&recs_of[..]);
                // A record moved to another step is always refused by the reading rules, so
                // it never gets here.
                prop_assert!(
                    !matches!(m, Mutation::MoveStep(..)),
                    "{:?} on {:?}: a moved record was judged",
                    m,
                    steps
                );
                if harmless {
                    continue;
                }
                // Or harmless by one of two rules the contract itself sets, decided from the
                // mutant's shape alone:
                let rule = harmless_by_rule(&lines, &m);
                prop_assert!(
                    rule.is_some(),
                    "{:?} of {:?} is neither flagged, nor refused, nor harmless, on {:?}",
                    m,
                    lines.get(m.at()),
                    steps
                );
                if let Some(rule) = rule {
                    HARMLESS.with(|h| *h.borrow_mut().entry(rule).or_default() += 1);
                }
            }
            Ok(())
        },
    );
    assert!(result.is_ok(), "{result:?}");
    HARMLESS.with(|h| eprintln!("unflagged mutants harmless by rule: {:?}", h.borrow()));
}

/// Why a usable, unflagged mutant that no world writes is still harmless, by the contract's
/// own rules (`None`: it is not):
/// - `"cross-channel order"`: two neighbouring records of different channels swapped, a
///   `ui` directive (the app's) and a `send` or `event` (the SDK's) or a `recv` (the
///   network's): the spec fixes the order within each machine's outputs, and the IO the
///   order across them (the driver's free-running transcripts equal the simulator's per
///   channel only). Found by a run with `PROPTEST_RNG_SEED=1`: a `ui show session_key`
///   swapped with the `recv presence_connected` that the network delivered next;
/// - `"silent re-attach answer"`: see [`silent_reattach_answer`];
/// - `"service's verdict on an agent line"`: the `error` record that refuses an `agent` line
///   dropped: it is the simulated service's statement about itself (no session, no agent, the
///   visitor not present); no SDK or app record depends on it, and nothing else changes.
fn harmless_by_rule(lines: &[TraceLine], m: &Mutation) -> Option<&'static str> {
    let rec = |i: usize| match lines.get(i) {
        Some(TraceLine::Record(r)) => Some(&r.observed),
        _ => None,
    };
    match *m {
        Mutation::Swap(i) => {
            // the SDK's records and the wire's: a `recv` comes when the network delivers it,
            // which no app output waits for
            let sdk = |o: Option<&Observed>| {
                matches!(
                    o,
                    Some(Observed::Send(_) | Observed::Event(_) | Observed::Recv(_))
                )
            };
            let ui = |o: Option<&Observed>| matches!(o, Some(Observed::Ui(_)));
            let (a, b) = (rec(i), rec(i + 1));
            ((sdk(a) && ui(b)) || (ui(a) && sdk(b))).then_some("cross-channel order")
        }
        Mutation::Drop(i) if silent_reattach_answer(rec(i), rec(i + 1)) => {
            Some("silent re-attach answer")
        }
        Mutation::Drop(i) => {
            let agent_line = i
                .checked_sub(1)
                .and_then(|j| lines.get(j))
                .is_some_and(|l| matches!(l, TraceLine::Step(Step::Agent(_))));
            (matches!(rec(i), Some(Observed::Error(_))) && agent_line)
                .then_some("service's verdict on an agent line")
        }
        _ => None,
    }
}

/// A `recv settings` / `init_failed` that no `EventVisitorInitialized` follows: the answer to
/// an `init` re-sent on a new link (S-F05, S-F06), which updates the settings silently. A
/// trace without it is one where that answer was lost on the wire: the SDK shows the same
/// either way (`"silent re-attach answer"`, found by a run with `PROPTEST_RNG_SEED=1`).
fn silent_reattach_answer(dropped: Option<&Observed>, next: Option<&Observed>) -> bool {
    let answer = matches!(
        dropped,
        Some(Observed::Recv(f)) if matches!(f.frame_type(), Some("settings" | "init_failed"))
    );
    let told = matches!(next, Some(Observed::Event(e)) if e.code() == "EventVisitorInitialized");
    answer && !told
}

thread_local! {
    /// Unflagged mutants harmless by [`harmless_by_rule`], by rule.
    static HARMLESS: std::cell::RefCell<BTreeMap<&'static str, usize>> =
        const { std::cell::RefCell::new(BTreeMap::new()) };
}

#[test]
fn a_record_of_each_kind_can_be_flagged() {
    // sanity: the recv frame shape of a record stays readable by the strict reader
    let r = Record {
        step: 1,
        observed: Observed::Recv(WireFrame::Json(serde_json::json!({"type": "x"}))),
    };
    let line = serde_json::to_string(&r).unwrap();
    assert!(cobrowse_visitor_conformance::transcript::parse_trace(&line).is_ok());
}

/// A world the measure once drew (`NoDisplayed` named only INV-CONTROLLER-CALLS-ACCEPTED): in
/// the background past the suspension, the customer's accept is refused by the SDK, so the
/// buggy app never answered the terms and INV-TERMS-ORDER asks nothing (`contract_silent`).
#[test]
fn a_refused_terms_answer_is_no_answer() {
    let login = || {
        Step::User(UserIntent::Login {
            visitor_id: "cust-7".into(),
        })
    };
    let steps = vec![
        Step::Config(ScenarioConfig {
            custom_ui: false,
            seed: 131,
            ..ScenarioConfig::default()
        }),
        Step::User(UserIntent::Launch),
        login(),
        Step::Lifecycle(cobrowse_visitor_core::Lifecycle::Background),
        Step::Agent(cobrowse_visitor_conformance::transcript::AgentAction::StartPresenceSession),
        Step::Network(cobrowse_visitor_core::NetworkChange::Restored),
        Step::AdvanceMs(61_000),
        login(),
        Step::User(UserIntent::EndSession),
        Step::User(UserIntent::AcceptTerms),
        login(),
    ];
    let correct = World::run(&steps).expect("settles");
    let buggy = Bug::NoDisplayed.run(&steps).expect("settles");
    let got = verdict(&steps, &buggy).unwrap_or_default();
    assert!(
        got.contains(&Invariant::TermsOrder)
            || contract_silent(Bug::NoDisplayed, &steps, &correct, &buggy).is_some(),
        "{got:?}"
    );
}
