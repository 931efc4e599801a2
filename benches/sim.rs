//! The whole simulator (controller, SDK core, simulated server and agent, transcript)
//! playing the seed journeys in `scenarios/*.jsonl`.
//!
//! Throughput is in machine inputs: what the simulator hands the SDK core and the controller
//! (API calls, frames, lifecycle and network changes, user intents, events), counted from
//! the transcripts, a lower bound (timer firings and reconnects are not recorded). The
//! journeys have 70 scenario steps in all: steps per second = 70 / the time per iteration.
//!
//! `cargo bench --bench sim`

use cobrowse_visitor_testkit::fixtures;

use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, Step};
use divan::counter::ItemsCount;
use divan::{black_box, AllocProfiler, Bencher};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

fn journeys() -> Vec<(String, Vec<Step>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let steps = parse_scenario(&text).ok()?;
            let name = p.file_stem()?.to_string_lossy().into_owned();
            Some((name, steps))
        })
        .collect()
}

/// Every seed journey once per iteration.
#[divan::bench]
fn all_journeys(bencher: Bencher) {
    let journeys = journeys();
    let inputs: usize = journeys
        .iter()
        .map(|(_, steps)| {
            fixtures::sim_inputs(steps, &World::run(steps).expect("the world settles"))
        })
        .sum();
    bencher.counter(ItemsCount::new(inputs)).bench_local(|| {
        for (_, steps) in &journeys {
            black_box(World::run(black_box(steps))).expect("the world settles");
        }
    });
}

/// The same, the transcripts handed back instead of dropped inside the timing (divan drops
/// a bench's return value after the sample): the simulator's own cost.
#[divan::bench]
fn all_journeys_kept(bencher: Bencher) {
    let journeys = journeys();
    let inputs: usize = journeys
        .iter()
        .map(|(_, steps)| {
            fixtures::sim_inputs(steps, &World::run(steps).expect("the world settles"))
        })
        .sum();
    bencher.counter(ItemsCount::new(inputs)).bench_local(|| {
        journeys
            .iter()
            .map(|(_, steps)| World::run(black_box(steps)).expect("the world settles"))
            .collect::<Vec<_>>()
    });
}
