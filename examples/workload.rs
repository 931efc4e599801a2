//! The fixed, deterministic workload whose instruction count CI gates
//! (`scripts/bench-instructions`): the seed journeys played through the simulator, every
//! steady-state input kind of the SDK core, the controller's cycles, and frame decoding.
//!
//! `cargo run --release --example workload` runs all of it once; the script builds the same
//! file through `benches/workload/Cargo.toml`, which needs no dev-dependencies. Parts, for
//! measuring one thing (instructions per input by differencing two counts):
//! `workload kind <guest_count|timer_expiry|…> <cycles>`, `workload decode <frame|all> <n>`,
//! `workload serde <frame|all> <n>`, `workload sim <rounds>`, `workload check <rounds>` (the
//! seed journeys' interleaved transcripts read and judged line by line, as `cobrowse check`
//! does).

use cobrowse_visitor_testkit::fixtures;

use cobrowse_visitor_conformance::oracle::{interleave, CheckOptions, Oracle};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace, Step, TraceLine};
use cobrowse_visitor_core::ServerFrame;
use fixtures::{controller, controller_step, Kind};
use std::hint::black_box;

/// The seed journeys, built in so the workload does not change when a scenario is added.
const JOURNEYS: [&str; 8] = [
    include_str!("../scenarios/background_presence_and_session.jsonl"),
    include_str!("../scenarios/logout_and_exit.jsonl"),
    include_str!("../scenarios/manual_fallback_logged_in.jsonl"),
    include_str!("../scenarios/network_loss_and_recovery.jsonl"),
    include_str!("../scenarios/oneclick_accepted.jsonl"),
    include_str!("../scenarios/oneclick_declined.jsonl"),
    include_str!("../scenarios/prelogin_manual.jsonl"),
    include_str!("../scenarios/second_group_refused.jsonl"),
];

/// Server frames, as they arrive.
const FRAMES: [(&str, &[u8]); 6] = [
    ("settings", br#"{"type":"settings","v":1,"key_length":4}"#),
    (
        "session_started",
        br#"{"type":"session_started","sessionkey":"4821"}"#,
    ),
    ("guest_count", br#"{"type":"guest_count","guestcount":2}"#),
    (
        "session_ended",
        br#"{"type":"session_ended","reason":"agent_ended"}"#,
    ),
    (
        "presence_show_terms",
        br#"{"type":"presence_show_terms","request_id":7}"#,
    ),
    ("presence_blur", br#"{"type":"presence_blur"}"#),
];

fn journeys() -> Vec<Vec<Step>> {
    JOURNEYS
        .iter()
        .map(|text| parse_scenario(text).unwrap_or_default())
        .collect()
}

fn sim(rounds: usize) -> usize {
    let journeys = journeys();
    let mut records = 0;
    for _ in 0..rounds {
        for steps in &journeys {
            records += black_box(World::run(steps).expect("the world settles")).len();
        }
    }
    records
}

/// The seed journeys' interleaved transcripts as `cobrowse run --interleave` writes them.
fn traces() -> Vec<String> {
    journeys()
        .iter()
        .map(|steps| {
            let records = World::run(steps).expect("the world settles");
            let mut text = String::new();
            for line in interleave(steps, &records) {
                let json = match &line {
                    TraceLine::Step(s) => s.to_json().to_string(),
                    TraceLine::Record(r) => serde_json::to_string(r).unwrap_or_default(),
                };
                text.push_str(&json);
                text.push('\n');
            }
            text
        })
        .collect()
}

/// `cobrowse check --reference-controller` on each trace, `rounds` times: one line at a time
/// through `parse_trace` and `Oracle::read`. Returns the records read.
fn check(traces: &[String], rounds: usize) -> usize {
    let mut records = 0;
    for _ in 0..rounds {
        for text in traces {
            let mut oracle =
                Oracle::with_options(CheckOptions::default().with_reference_controller(true));
            for (i, line) in black_box(text).lines().enumerate() {
                for (_, item) in parse_trace(line).expect("the trace parses") {
                    records += usize::from(matches!(item, TraceLine::Record(_)));
                    oracle.read(i + 1, &item).expect("the trace is usable");
                }
            }
            black_box(oracle.finish());
        }
    }
    records
}

fn kind(kind: Kind, cycles: usize) -> usize {
    let mut m = kind.setup();
    let cycle = kind.cycle();
    let mut outs = 0;
    for _ in 0..cycles {
        for input in cycle.iter().cloned() {
            outs += m.step(black_box(input)).0;
        }
    }
    outs
}

fn decode(frames: &[&[u8]], n: usize, bare: bool) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for frame in frames {
            ok += usize::from(if bare {
                serde_json::from_slice::<ServerFrame>(black_box(frame)).is_ok()
            } else {
                ServerFrame::decode(black_box(frame)).is_ok()
            });
        }
    }
    ok
}

fn controller_cycles(n: usize) -> usize {
    let mut outs = 0;
    for (logged_in, cycle) in [
        (false, fixtures::controller_manual_cycle()),
        (true, fixtures::controller_terms_cycle()),
    ] {
        let mut c = controller(logged_in);
        for _ in 0..n {
            for input in cycle.iter().cloned() {
                outs += controller_step(&mut c, input);
            }
        }
    }
    outs
}

/// The whole gated workload.
fn all() -> usize {
    let mut total = sim(100);
    total += check(&traces(), 20);
    for k in Kind::ALL {
        total += kind(k, 5_000);
    }
    total += controller_cycles(5_000);
    total += decode(&frames("all"), 2_000, false);
    total += decode(&frames("all"), 2_000, true);
    total
}

/// The frame called `name`, or every frame for `all`.
fn frames(name: &str) -> Vec<&'static [u8]> {
    FRAMES
        .iter()
        .filter(|(n, _)| name == "all" || *n == name)
        .map(|(_, b)| *b)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let n = |i: usize| arg(i).parse::<usize>().unwrap_or(1_000);
    let total = match arg(0) {
        "" | "all" => all(),
        "sim" => sim(n(1)),
        "check" => check(&traces(), n(1)),
        // Records in one round of `check`.
        "check-records" => check(&traces(), 1),
        "kind" => match Kind::ALL.iter().find(|k| k.name() == arg(1)) {
            Some(k) => kind(*k, n(2)),
            None => {
                eprintln!("unknown kind `{}`", arg(1));
                std::process::exit(2);
            }
        },
        "decode" => decode(&frames(arg(1)), n(2), false),
        "serde" => decode(&frames(arg(1)), n(2), true),
        "controller" => controller_cycles(n(1)),
        // Inputs in one cycle of a kind (for per-input figures).
        "inputs" => Kind::ALL
            .iter()
            .find(|k| k.name() == arg(1))
            .map_or(0, |k| k.cycle().len()),
        // Steps and machine inputs (a lower bound) in one round of the seed journeys.
        "sim-inputs" => {
            let (steps, inputs) = journeys().iter().fold((0, 0), |(s, i), steps| {
                let records = World::run(steps).expect("the world settles");
                (s + steps.len(), i + fixtures::sim_inputs(steps, &records))
            });
            print!("{steps} ");
            inputs
        }
        other => {
            eprintln!("unknown part `{other}`: all, sim, check, check-records, kind, decode, serde, controller, inputs, sim-inputs");
            std::process::exit(2);
        }
    };
    println!("{total}");
}
