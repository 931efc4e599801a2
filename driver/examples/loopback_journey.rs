//! Plays a scenario over real WebSockets on 127.0.0.1 — the driver against the loopback
//! server — prints its transcript as JSON Lines, and says whether it equals the simulator's.
//!
//! ```text
//! cargo run -p cobrowse-visitor-driver --example loopback_journey -- scenarios/prelogin_manual.jsonl
//! cargo run -p cobrowse-visitor-driver --example loopback_journey -- --free scenarios/oneclick_accepted.jsonl
//! ```
//!
//! `--free` lets the server write as soon as it can (as a real one) instead of in the
//! simulator's lockstep; then the comparison allows the interleaving within a step to differ.
#[path = "../tests/harness/mod.rs"]
mod harness;

use cobrowse_visitor_conformance::transcript::parse_scenario;
use harness::{
    assert_same, assert_same_apart_from_interleaving, jsonl, play, simulate, Line, Options,
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut free = false;
    let mut path = "scenarios/prelogin_manual.jsonl".to_owned();
    for arg in std::env::args().skip(1) {
        if arg == "--free" {
            free = true;
        } else {
            path = arg;
        }
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let lines: Vec<Line> = match parse_scenario(&text) {
        Ok(steps) => steps.into_iter().map(Line::same).collect(),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2)
        }
    };
    let options = if free {
        Options::FREE
    } else {
        Options::LOCKSTEP
    };
    let records = play(&lines, options).await;
    println!("{}", jsonl(&records));
    let sim = simulate(&lines);
    if free {
        assert_same_apart_from_interleaving(&records, &sim);
        eprintln!("equal to the simulator's transcript apart from interleaving within steps");
    } else {
        assert_same(&records, &sim);
        eprintln!("equal to the simulator's transcript");
    }
}
