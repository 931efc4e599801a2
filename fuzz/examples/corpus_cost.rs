//! Runs a fuzz target's judgement over every input of a corpus directory, `ROUNDS` times: the
//! workload `scripts/bench-instructions` counts (instructions per fuzz execution on the seed
//! corpus) and times.
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/Cargo.toml --example corpus_cost -- drive_core fuzz/corpus/drive_core 1
//! ```
//!
//! Prints the number of inputs, the executions and the wall-clock time per execution. Exit
//! status 1 when an input fails (the corpus is the seeds: none should).

use cobrowse_fuzz::drive::CoreInput;
use cobrowse_fuzz::scenario::FuzzScenario;
use cobrowse_fuzz::{drive, frame, scenario, trace};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, dir, rounds] = args.as_slice() else {
        eprintln!(
            "usage: corpus_cost drive_core|drive_scenario|decode_frame|check_trace DIR ROUNDS"
        );
        return ExitCode::from(2);
    };
    let Ok(rounds) = rounds.parse::<usize>() else {
        eprintln!("ROUNDS must be a whole number");
        return ExitCode::from(2);
    };
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{dir}: {e}");
            return ExitCode::from(2);
        }
    };
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let start = Instant::now();
    let mut failed = false;
    for _ in 0..rounds {
        for data in &inputs {
            let verdict = match target.as_str() {
                "drive_core" => drive::run(&CoreInput::read(data)),
                "drive_scenario" => scenario::run(&FuzzScenario::read(data)),
                "decode_frame" => frame::run(data),
                "check_trace" => trace::run(data),
                other => {
                    eprintln!("unknown target {other}");
                    return ExitCode::from(2);
                }
            };
            if let Err(f) = verdict {
                eprintln!("{f}");
                failed = true;
            }
        }
    }
    let execs = rounds * inputs.len();
    let per = start.elapsed().as_secs_f64() / execs.max(1) as f64;
    println!(
        "{target}: {} inputs, {execs} executions, {:.1} µs per execution ({:.0} / s)",
        inputs.len(),
        per * 1e6,
        1.0 / per
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
