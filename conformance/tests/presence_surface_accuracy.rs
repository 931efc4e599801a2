//! How accurately `cobrowse check` judges issue 14's invariants (spec.md §10.2:
//! INV-CONSENT-POLICY, INV-CONNECT-ATTEMPTS, INV-NOT-CONFIGURED, INV-PRESENCE-DATA,
//! INV-SEND-FAIL-REFUSES), measured as `tests/check_accuracy.rs` measures the contract's: each
//! buggy integration of `Bug::PRESENCE_SURFACE` plays the same generated world as the correct
//! one; where its transcript differs (the bug showed), `check` (the contract's reading rules,
//! interleaved) must name the bug's invariant (recall), and the correct integration is never
//! flagged with one of these invariants (precision). The worlds are generated here, from a
//! fixed seed, over a vocabulary that reaches those paths (configs of §13.1, agent starts and
//! signals, presence data, direct presence calls), which the contract suite's worlds do not.
//!
//! `ACCURACY.md`'s section on these invariants is this suite's table
//! (`issue_14_recall_and_precision_are_total` keeps it current).

use cobrowse_visitor_conformance::bugs::Bug;
use cobrowse_visitor_conformance::oracle::{interleave, read_trace, Invariant};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{AgentAction, ScenarioConfig, Step};
use cobrowse_visitor_core::{ApiCall, ConsentPolicy, Lifecycle, NetworkChange, UserIntent};
use std::collections::{BTreeMap, BTreeSet};

/// Worlds generated (each played by the correct integration and every bug).
const WORLDS: u64 = 400;

/// SplitMix64: the generator's only randomness, from a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One step, or a short journey that single random steps rarely line up.
fn chunk(rng: &mut Rng) -> Vec<Step> {
    let login = Step::User(UserIntent::Login {
        visitor_id: "cust-42".to_owned(),
    });
    let one = match rng.below(27) {
        0 | 1 => login,
        2 => Step::User(UserIntent::TapCobrowse),
        3 | 4 => Step::User(UserIntent::AcceptTerms),
        5 => Step::User(UserIntent::DeclineTerms),
        6 => Step::User(UserIntent::EndSession),
        7 => Step::User(UserIntent::Logout),
        8 => Step::Lifecycle(Lifecycle::Background),
        9 => Step::Lifecycle(Lifecycle::Foreground),
        10 => Step::Network(NetworkChange::Lost),
        11 | 12 => Step::Network(NetworkChange::Restored),
        13 => Step::Agent(AgentAction::StartPresenceSession),
        14 | 15 => Step::Agent(AgentAction::StartWithoutTerms),
        16 => Step::Agent(AgentAction::Join),
        17 => Step::Agent(AgentAction::EndSession),
        18 => Step::AgentSignal {
            event: "open_page".to_owned(),
            map: map(&[("page", "checkout")]),
        },
        19 | 20 => Step::User(UserIntent::PresenceData {
            map: map(&[(["page", "cart"][rng.below(2) as usize], "x")]),
        }),
        21 => Step::AdvanceMs([1_000, 16_000, 61_000][rng.below(3) as usize]),
        22 => Step::Api(ApiCall::PresenceSignalVisibility {
            visible: rng.below(2) == 1,
        }),
        23 => Step::Api(ApiCall::PresenceSignalAgent {
            event: "hello".to_owned(),
            map: BTreeMap::new(),
        }),
        24 => {
            let max_attempts = [1, 2, 3][rng.below(3) as usize];
            return vec![
                login,
                Step::Api(ApiCall::PresenceDisconnect),
                Step::Api(ApiCall::PresenceConnect { max_attempts }),
                Step::Network(NetworkChange::Lost),
                Step::Network(NetworkChange::Restored),
            ];
        }
        25 => {
            return vec![
                Step::Network(NetworkChange::Lost),
                Step::User(UserIntent::PresenceData {
                    map: map(&[("page", "offline")]),
                }),
                Step::Network(NetworkChange::Restored),
            ]
        }
        _ => {
            return vec![
                login,
                Step::Agent(AgentAction::StartWithoutTerms),
                Step::User(UserIntent::AcceptTerms),
            ]
        }
    };
    vec![one]
}

/// A generated world: a config of §13.1, a launch, then up to 20 chunks.
fn world(rng: &mut Rng) -> Vec<Step> {
    let (consent_policy, agent_start, presence) = match rng.below(5) {
        0 => (ConsentPolicy::TermsRequired, false, true),
        1 => (ConsentPolicy::AgentMayStart, true, true),
        2 => (ConsentPolicy::AgentMayStart, false, true),
        3 => (ConsentPolicy::TermsRequired, true, true),
        _ => (ConsentPolicy::TermsRequired, false, false),
    };
    let config = ScenarioConfig {
        consent_policy,
        agent_start,
        presence,
        ..ScenarioConfig::default()
    };
    let mut steps = vec![Step::Config(config), Step::User(UserIntent::Launch)];
    for _ in 0..rng.below(20) + 1 {
        steps.extend(chunk(rng));
    }
    steps
}

/// The invariants `check` names on a transcript of `steps`.
fn named(
    steps: &[Step],
    records: &[cobrowse_visitor_conformance::transcript::Record],
) -> BTreeSet<Invariant> {
    let lines: Vec<_> = interleave(steps, records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    read_trace(&lines)
        .expect("a simulated transcript is usable")
        .iter()
        .map(|v| v.invariant)
        .collect()
}

#[derive(Clone, Copy, Default)]
struct Tally {
    showed: u64,
    named: u64,
    false_alarms: u64,
}

fn table(t: &BTreeMap<Invariant, Tally>) -> String {
    let mut out = String::from("| invariant | bugs | worlds where a bug showed | recall | precision |\n| --- | --- | --- | --- | --- |\n");
    for bug in Bug::PRESENCE_SURFACE {
        let inv = bug.target();
        let x = t.get(&inv).copied().unwrap_or_default();
        let percent = |part: u64, whole: u64| {
            (part * 100)
                .checked_div(whole)
                .map_or_else(|| "—".to_owned(), |p| format!("{p} %"))
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            inv.id(),
            Bug::PRESENCE_SURFACE
                .iter()
                .filter(|b| b.target() == inv)
                .count(),
            x.showed,
            percent(x.named, x.showed),
            percent(x.named, x.named + x.false_alarms),
        ));
    }
    out
}

#[test]
fn issue_14_recall_and_precision_are_total() {
    let mut rng = Rng(14);
    let mut t: BTreeMap<Invariant, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let targets: BTreeSet<Invariant> = Bug::PRESENCE_SURFACE.iter().map(|b| b.target()).collect();
    for n in 0..WORLDS {
        let steps = world(&mut rng);
        let correct = World::run(&steps).expect("the world settles");
        for inv in named(&steps, &correct).intersection(&targets) {
            t.entry(*inv).or_default().false_alarms += 1;
            misses.push(format!(
                "world {n}: the correct integration is flagged {inv}: {steps:?}"
            ));
        }
        for bug in Bug::PRESENCE_SURFACE {
            let buggy = bug.run(&steps).expect("the world settles");
            if buggy == correct {
                continue;
            }
            let x = t.entry(bug.target()).or_default();
            x.showed += 1;
            if named(&steps, &buggy).contains(&bug.target()) {
                x.named += 1;
            } else {
                misses.push(format!(
                    "world {n}: {bug:?} showed but {} was not named: {steps:?}",
                    bug.target()
                ));
            }
        }
    }
    let report = table(&t);
    eprintln!("{report}");
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    for bug in Bug::PRESENCE_SURFACE {
        assert!(
            t.get(&bug.target()).is_some_and(|x| x.showed > 0),
            "{bug:?} never showed in {WORLDS} worlds"
        );
    }
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ACCURACY.md"))
        .expect("ACCURACY.md");
    assert!(
        committed.contains(&report),
        "ACCURACY.md is not current:\n{report}"
    );
}
