//! Prints a fuzz input as a person reads it, and judges it again.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example replay -- TARGET FILE
//! ```
//!
//! For `drive_scenario` the output is the scenario itself (JSON Lines, replay with
//! `cobrowse run --interleave FILE | cobrowse check -`); for `drive_core` the op list and the
//! ops as a scenario; for the byte targets the bytes. Then the target's verdict: `ok`, or the
//! full finding. Exit status 1 when the input fails.

use cobrowse_fuzz::drive::CoreInput;
use cobrowse_fuzz::scenario::FuzzScenario;
use cobrowse_fuzz::{drive, frame, report, scenario, trace};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, file] = args.as_slice() else {
        eprintln!("usage: replay decode_frame|drive_core|drive_scenario|check_trace FILE");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let verdict = match target.as_str() {
        "drive_scenario" => {
            let s = FuzzScenario::read(&data);
            println!("# {file} as a contract scenario:");
            print!("{}", report::scenario_jsonl(&s.lines()));
            scenario::run(&s)
        }
        "drive_core" => {
            let input = CoreInput::read(&data);
            println!(
                "# {file}: config {:?}, server answers: {}, timings {:?}",
                input.config, input.auto_server, input.timings
            );
            for (i, op) in input.ops.iter().enumerate() {
                println!("# op {i}: {op:?}");
            }
            println!("# as a contract scenario:");
            print!("{}", input.scenario());
            drive::run(&input)
        }
        "decode_frame" => {
            println!("# {file}: {:?}", String::from_utf8_lossy(&data));
            frame::run(&data)
        }
        "check_trace" => {
            println!("# {file}:");
            println!("{}", String::from_utf8_lossy(&data));
            trace::run(&data)
        }
        other => {
            eprintln!("unknown target {other}");
            return ExitCode::from(2);
        }
    };
    match verdict {
        Ok(()) => {
            println!("# verdict: ok");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("# verdict: FAILS\n{failure}");
            ExitCode::FAILURE
        }
    }
}
