//! Plays a scenario file through the simulator and prints its transcript as JSON Lines.
//!
//! `cargo run --example journey -- scenarios/prelogin_manual.jsonl`
use cobrowse_visitor_core::sim::World;
use cobrowse_visitor_core::transcript::parse_scenario;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/prelogin_manual.jsonl".to_owned());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let steps = match parse_scenario(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    for record in World::run(&steps) {
        match serde_json::to_string(&record) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("{e}"),
        }
    }
}
