//! Writes the seed corpus of every target from the repository's `scenarios/` and `traces/`.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_corpus -- ROOT OUT
//! ```
//!
//! - `decode_frame`: every `recv` and `send` frame of the traces and of the scenarios'
//!   transcripts, as JSON.
//! - `check_trace`: the traces as they are; each scenario file; each scenario's transcript
//!   from the simulator, with its scenario lines interleaved and without.
//! - `drive_scenario`: each scenario, encoded in the target's byte format
//!   (`cobrowse_fuzz::input`), so the seed decodes to exactly that scenario.
//! - `drive_core`: each scenario as ops with the simulated server answering; and each
//!   scenario's transcript and each trace as ops with the server silent and every `recv`
//!   frame injected as a raw frame op after the step that caused it.

use cobrowse_fuzz::drive::{CoreInput, Op};
use cobrowse_fuzz::report::trace_jsonl;
use cobrowse_fuzz::scenario::FuzzScenario;
use cobrowse_visitor_conformance::oracle::interleave;
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, parse_trace, Observed, ScenarioConfig, Step, TraceLine,
};
use cobrowse_visitor_core::ServerFrame;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Seeds of one target, written as `OUT/<target>/seed-<name>`.
struct Seeds {
    dir: PathBuf,
    written: BTreeSet<Vec<u8>>,
}

impl Seeds {
    fn new(out: &Path, target: &str) -> std::io::Result<Seeds> {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        Ok(Seeds {
            dir,
            written: BTreeSet::new(),
        })
    }

    fn put(&mut self, name: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        if bytes.is_empty() || !self.written.insert(bytes.clone()) {
            return Ok(());
        }
        std::fs::write(self.dir.join(format!("seed-{name}")), bytes)
    }
}

/// A trace (scenario lines interleaved with records) as `drive_core` ops with the server
/// silent: each scenario line its op, each received frame a raw frame op.
fn ops_from_trace(lines: &[TraceLine]) -> CoreInput {
    let mut config = ScenarioConfig::default();
    let mut ops = Vec::new();
    for line in lines {
        match line {
            TraceLine::Step(Step::Config(c)) => config = c.clone(),
            TraceLine::Step(s) => ops.extend(op_of(s)),
            TraceLine::Record(r) => {
                if let Observed::Recv(v) = &r.observed {
                    if let Ok(f) = serde_json::from_value::<ServerFrame>(v.to_json()) {
                        ops.push(Op::Frame(f));
                    }
                }
            }
        }
    }
    ops.truncate(cobrowse_fuzz::drive::MAX_OPS);
    CoreInput {
        config,
        auto_server: false,
        timings: None,
        ops,
    }
}

fn op_of(step: &Step) -> Option<Op> {
    Some(match step {
        Step::Config(_) => return None,
        Step::User(i) => Op::User(i.clone()),
        Step::Lifecycle(l) => Op::Lifecycle(*l),
        Step::Network(n) => Op::Network(*n),
        Step::Agent(a) => Op::Agent(*a),
        Step::AgentSignal { event, map } => Op::AgentSignal {
            event: event.clone(),
            map: map.clone(),
        },
        Step::AgentMessage { name, map } => Op::AgentMessage {
            name: name.clone(),
            map: map.clone(),
        },
        Step::Relaunch { away_ms } => Op::Relaunch { away_ms: *away_ms },
        Step::AdvanceMs(ms) => Op::Advance {
            ms: *ms,
            exact: true,
        },
        Step::Api(c) => Op::Api(c.clone()),
    })
}

fn frames_of(lines: &[TraceLine]) -> Vec<Vec<u8>> {
    lines
        .iter()
        .filter_map(|l| match l {
            TraceLine::Record(r) => match &r.observed {
                Observed::Recv(v) => Some(v.to_json().to_string().into_bytes()),
                Observed::Send(v) => Some(v.to_json().to_string().into_bytes()),
                _ => None,
            },
            TraceLine::Step(_) => None,
        })
        .collect()
}

fn run(root: &Path, out: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let mut frames = Seeds::new(out, "decode_frame").map_err(io)?;
    let mut traces = Seeds::new(out, "check_trace").map_err(io)?;
    let mut scenarios = Seeds::new(out, "drive_scenario").map_err(io)?;
    let mut cores = Seeds::new(out, "drive_core").map_err(io)?;

    for path in jsonl_files(&root.join("scenarios")) {
        let name = stem(&path);
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let steps = parse_scenario(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let records = World::run(&steps).expect("the world settles");
        let lines = interleave(&steps, &records);
        traces
            .put(&format!("{name}.scenario"), text.into_bytes())
            .map_err(io)?;
        traces
            .put(
                &format!("{name}.interleaved"),
                trace_jsonl(&lines).into_bytes(),
            )
            .map_err(io)?;
        let bare: Vec<TraceLine> = records.iter().cloned().map(TraceLine::Record).collect();
        traces
            .put(&format!("{name}.records"), trace_jsonl(&bare).into_bytes())
            .map_err(io)?;
        for (i, f) in frames_of(&lines).into_iter().enumerate() {
            frames.put(&format!("{name}-{i}"), f).map_err(io)?;
        }
        scenarios
            .put(&name, FuzzScenario::from_steps(&steps).write())
            .map_err(io)?;
        let served = FuzzScenario::from_steps(&steps);
        let core = CoreInput {
            config: served.config.clone().unwrap_or_default(),
            auto_server: true,
            timings: None,
            ops: served.steps.iter().filter_map(op_of).collect(),
        };
        cores
            .put(&format!("{name}.served"), core.write())
            .map_err(io)?;
        cores
            .put(&format!("{name}.frames"), ops_from_trace(&lines).write())
            .map_err(io)?;
    }

    for path in jsonl_files(&root.join("traces")) {
        let name = stem(&path);
        let text = std::fs::read_to_string(&path).map_err(io)?;
        traces.put(&name, text.clone().into_bytes()).map_err(io)?;
        let lines: Vec<TraceLine> = parse_trace(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        for (i, f) in frames_of(&lines).into_iter().enumerate() {
            frames.put(&format!("{name}-{i}"), f).map_err(io)?;
        }
        cores
            .put(&format!("{name}.frames"), ops_from_trace(&lines).write())
            .map_err(io)?;
    }

    for s in [&frames, &traces, &scenarios, &cores] {
        println!("{}: {} seeds", s.dir.display(), s.written.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, out] = args.as_slice() else {
        eprintln!("usage: make_corpus ROOT OUT");
        return ExitCode::from(2);
    };
    match run(Path::new(root), Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
