//! Recall and precision of issue 15's invariants (spec.md §10.2: INV-PAUSE-RUNNING,
//! INV-PAUSE-SHOWN, INV-MESSAGE-IN-SESSION, INV-RESTORE-KEY-HIDDEN, INV-RESTORE-GROUP,
//! INV-START-OPTIONS, INV-PERSIST): each
//! buggy integration of `Bug::SESSION_EXTRAS` is played on generated worlds that pause,
//! message, set user state and relaunch; a world where the bug changed the transcript must be
//! flagged with the bug's invariant (recall), and the correct integration never with any of
//! them (precision). The table is ACCURACY.md's section, held byte for byte.

use cobrowse_visitor_conformance::bugs::Bug;
use cobrowse_visitor_conformance::oracle::{interleave, read_trace_with, CheckOptions, Invariant};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{AgentAction, ScenarioConfig, Step};
use cobrowse_visitor_core::{ApiCall, Lifecycle, NetworkChange, StartOptions, UserIntent};
use std::collections::{BTreeMap, BTreeSet};

const WORLDS: u64 = 400;

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

fn chunk(rng: &mut Rng) -> Vec<Step> {
    let login = Step::User(UserIntent::Login {
        visitor_id: "cust-42".to_owned(),
    });
    let one = match rng.below(22) {
        0 => login,
        1 | 2 => Step::User(UserIntent::TapCobrowse),
        3 => Step::User(UserIntent::AcceptTerms),
        4 => Step::User(UserIntent::EndSession),
        5 | 6 => Step::User(UserIntent::TogglePause),
        7 => Step::User(UserIntent::SendMessage {
            name: "hello".to_owned(),
            map: BTreeMap::new(),
        }),
        8 => Step::User(UserIntent::SetUserState {
            name: "step".to_owned(),
            value: ["cart", "payment"][rng.below(2) as usize].to_owned(),
        }),
        9 | 10 => Step::AgentMessage {
            name: "note".to_owned(),
            map: BTreeMap::new(),
        },
        11 => Step::Agent(AgentAction::Join),
        12 => Step::Agent(AgentAction::EndSession),
        13 => Step::Network(NetworkChange::Lost),
        14 => Step::Network(NetworkChange::Restored),
        15 => Step::Lifecycle(Lifecycle::Background),
        16 => Step::Lifecycle(Lifecycle::Foreground),
        17 | 18 => Step::Relaunch {
            away_ms: [1_000, 30_000, 90_000][rng.below(3) as usize],
        },
        19 => Step::Api(ApiCall::Pause {
            paused: rng.below(2) == 1,
        }),
        20 => Step::AdvanceMs([1_000, 20_000, 61_000][rng.below(3) as usize]),
        _ => {
            return vec![
                login,
                Step::Agent(AgentAction::StartPresenceSession),
                Step::User(UserIntent::AcceptTerms),
            ]
        }
    };
    vec![one]
}

fn world(rng: &mut Rng) -> Vec<Step> {
    // the controller's start options (§13.1 `start_options`): the defaults in half the worlds
    let start_options = match rng.below(6) {
        0 => StartOptions {
            max_guests: Some(1),
            paused: true,
            persist: true,
        },
        1 => StartOptions {
            persist: false,
            ..StartOptions::default()
        },
        2 => StartOptions {
            max_guests: Some(2),
            paused: rng.below(2) == 1,
            persist: false,
        },
        _ => StartOptions::default(),
    };
    let mut steps = vec![
        Step::Config(ScenarioConfig {
            start_options,
            ..ScenarioConfig::default()
        }),
        Step::User(UserIntent::Launch),
    ];
    for _ in 0..rng.below(20) + 1 {
        steps.extend(chunk(rng));
    }
    steps
}

/// What the oracle names on the interleaved trace, judged as the crate's controller's.
fn named(
    steps: &[Step],
    records: &[cobrowse_visitor_conformance::transcript::Record],
) -> BTreeSet<Invariant> {
    let lines: Vec<_> = interleave(steps, records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    read_trace_with(
        &lines,
        CheckOptions::default().with_reference_controller(true),
    )
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
    for bug in Bug::SESSION_EXTRAS {
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
            Bug::SESSION_EXTRAS
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
fn issue_15_recall_and_precision_are_total() {
    let mut rng = Rng(15);
    let mut t: BTreeMap<Invariant, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let targets: BTreeSet<Invariant> = Bug::SESSION_EXTRAS.iter().map(|b| b.target()).collect();
    for n in 0..WORLDS {
        let steps = world(&mut rng);
        let correct = World::run(&steps).expect("the world settles");
        for inv in named(&steps, &correct).intersection(&targets) {
            t.entry(*inv).or_default().false_alarms += 1;
            misses.push(format!(
                "world {n}: the correct integration is flagged {inv}: {steps:?}"
            ));
        }
        let direct = steps.iter().any(|s| matches!(s, Step::Api(_)));
        for bug in Bug::SESSION_EXTRAS {
            // INV-PAUSE-SHOWN is the controller's duty, not judged once the app calls the SDK
            // itself (an `api` step: its own pause is not the notice's, spec.md §10.2)
            if bug == Bug::PausedNoticeKept && direct {
                continue;
            }
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
    for bug in Bug::SESSION_EXTRAS {
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
