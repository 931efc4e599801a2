//! `drive_scenario`: arbitrary contract scenarios through the simulator (`sim::World`).
//!
//! The scenario is written as the contract's JSON Lines and read back with `parse_scenario`
//! (what `cobrowse run` does; the read-back must write the same text), played twice (`INV-DETERMINISTIC`), its transcript written as
//! JSON Lines and read back with `parse_trace` (what `cobrowse check` does), and checked by
//! the oracle twice: with the scenario lines interleaved (`cobrowse run --interleave`, every
//! invariant judged) and as bare records (`cobrowse run | cobrowse check`). Not judged: the
//! controller's duties once a step calls the SDK directly ([`crate::CONTROLLER_DUTIES`]), the
//! group the app chose itself with a direct `init_visitor` (`oracle::GroupChoice`), and
//! INV-REFUSED-NO-EFFECT in the steps where the transcript cannot show it
//! ([`feeds_unrecorded`]).

use crate::input::{self, Writer};
use crate::report::{numbered_tail, scenario_jsonl, trace_jsonl, Failure};
use arbitrary::Unstructured;
use cobrowse_visitor_conformance::liveness;
use cobrowse_visitor_conformance::oracle::{
    check_trace, interleave, machine, plain, CheckOptions, GroupChoice, Invariant, Oracle,
    Violation,
};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, parse_trace, ScenarioConfig, Step, TraceLine,
};
use cobrowse_visitor_core::UserIntent;

const TARGET: &str = "drive_scenario";

/// Most steps read from one input.
pub const MAX_STEPS: usize = 64;

/// A scenario: an optional config line and steps a scenario file can say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzScenario {
    /// The first line, if any (else the contract's defaults).
    pub config: Option<ScenarioConfig>,
    /// The other lines.
    pub steps: Vec<Step>,
    /// LIVE-RESTART-TRANSPARENT's probe (the first byte's bits 1–7): 0 for none, else a
    /// relaunch after line `(probe − 1) mod lines` of `probe × 7919 mod 59 999` ms.
    pub relaunch_probe: u8,
}

fn step(u: &mut Unstructured<'_>) -> Step {
    match input::byte(u) % 9 {
        0 => Step::User(input::intent(u)),
        1 => Step::Lifecycle(input::lifecycle(u, false)),
        2 => Step::Network(input::network(u)),
        3 => Step::Agent(input::agent(u)),
        4 => Step::AdvanceMs(input::duration_ms(u, true)),
        5 => Step::Api(input::call(u)),
        6 => {
            let (event, map) = input::agent_signal(u);
            Step::AgentSignal { event, map }
        }
        7 => {
            let (name, map) = input::user_message(u);
            Step::AgentMessage { name, map }
        }
        _ => Step::Relaunch {
            away_ms: input::duration_ms(u, false),
        },
    }
}

impl FuzzScenario {
    /// Reads a scenario: a byte whose bit 0 says whether a config follows, the config, then
    /// steps until the input ends.
    pub fn read(data: &[u8]) -> FuzzScenario {
        let mut u = Unstructured::new(data);
        let first = input::byte(&mut u);
        let config = (first & 1 == 1).then(|| input::config(&mut u));
        let mut steps = Vec::new();
        while !u.is_empty() && steps.len() < MAX_STEPS {
            steps.push(step(&mut u));
        }
        FuzzScenario {
            config,
            steps,
            relaunch_probe: first >> 1,
        }
    }

    /// The scenario of a parsed scenario file.
    pub fn from_steps(steps: &[Step]) -> FuzzScenario {
        match steps.split_first() {
            Some((Step::Config(c), rest)) => FuzzScenario {
                config: Some(c.clone()),
                steps: rest.to_vec(),
                relaunch_probe: 0,
            },
            _ => FuzzScenario {
                config: None,
                steps: steps.to_vec(),
                relaunch_probe: 0,
            },
        }
    }

    /// Writes the scenario so that [`FuzzScenario::read`] reads it back.
    pub fn write(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let probe = self.relaunch_probe.min(0x7F) << 1;
        match &self.config {
            None => w.byte(probe),
            Some(c) => {
                w.byte(probe | 1);
                w.config(c);
            }
        }
        for s in &self.steps {
            match s {
                Step::User(i) => {
                    w.byte(0);
                    w.intent(i);
                }
                Step::Lifecycle(l) => {
                    w.byte(1);
                    w.lifecycle(*l);
                }
                Step::Network(n) => {
                    w.byte(2);
                    w.network(*n);
                }
                Step::Agent(a) => {
                    w.byte(3);
                    w.agent(*a);
                }
                Step::AdvanceMs(ms) => {
                    w.byte(4);
                    w.duration_ms(*ms, true);
                }
                Step::Api(c) => {
                    w.byte(5);
                    w.call(c);
                }
                Step::AgentSignal { event, map } => {
                    w.byte(6);
                    w.agent_signal(event, map);
                }
                Step::AgentMessage { name, map } => {
                    w.byte(7);
                    w.user_message(name, map);
                }
                Step::Relaunch { away_ms } => {
                    w.byte(8);
                    w.duration_ms(*away_ms, false);
                }
                // only the first line is a config; a later one is not written
                Step::Config(_) => {}
            }
        }
        w.into_bytes()
    }

    /// All lines, the config first.
    pub fn lines(&self) -> Vec<Step> {
        self.config
            .iter()
            .cloned()
            .map(Step::Config)
            .chain(self.steps.iter().cloned())
            .collect()
    }
}

/// Plays the scenario and judges it; `Err` is the finding, ready to print.
pub fn run(scenario: &FuzzScenario) -> Result<(), Failure> {
    let steps = scenario.lines();
    let fail = |headline: String| {
        Failure::new(TARGET, headline).section(
            "the scenario (replay with `cobrowse run --interleave`, then `cobrowse check`)",
            scenario_jsonl(&steps),
        )
    };
    // what `cobrowse run` reads is what was generated, or at least means the same: it writes
    // the same text again (the contract cannot tell some values apart; they run as read).
    // Each line reads back as its step (`memo`), and a config line comes first only: then the
    // text reads back as the steps. Else the text is read whole, to say what it reads as.
    let read_back;
    let parsed: &[Step] = if every_step_reads_back(&steps) {
        &steps
    } else {
        let text = scenario_jsonl(&steps);
        let parsed = match parse_scenario(&text) {
            Ok(parsed) => parsed,
            // a line the reader refuses on its own (`cobrowse run` exits 2): nothing runs
            Err(_) if reader_refuses(scenario) => return Ok(()),
            Err(e) => {
                return Err(fail(format!(
                    "the scenario does not read back from JSON: {e}"
                )))
            }
        };
        if scenario_jsonl(&parsed) != text {
            return Err(fail(format!(
                "the scenario does not read back as itself: {steps:?} reads as {parsed:?}"
            )));
        }
        read_back = parsed;
        &read_back
    };
    // a world that does not settle is a finding (`cobrowse run` exits 1 on it)
    let direct_api = steps.iter().any(|s| matches!(s, Step::Api(_)));
    let records = World::run(parsed).map_err(|e| fail(e.to_string()))?;
    // the second play is the one progress is judged on (below)
    let (again, agreement) = liveness::play_and_agree(parsed).map_err(|e| fail(e.to_string()))?;
    if let Some(v) = machine::deterministic(&records, again.transcript()) {
        return Err(fail(headline(&v)));
    }
    // what `cobrowse check` reads must be what was recorded: each line, written as JSON,
    // reads back as itself (`memo`: a line proven earlier in the process is not written and read again);
    // only when one does not is the whole trace written and read, to say where
    let lines = interleave(parsed, &records);
    let with_trace = |f: Failure| {
        f.section(
            "the interleaved transcript (numbered as the oracle numbers it)",
            numbered_tail(&lines),
        )
    };
    if !every_line_reads_back(&lines) {
        let trace = trace_jsonl(&lines);
        let read_back = parse_trace(&trace).map_err(|e| {
            with_trace(fail(format!(
                "the transcript does not read back from JSON: {e}"
            )))
        })?;
        // each line read back as the line it was, numbered from 1 (compared in place)
        let same =
            |(i, ((n, a), b)): (usize, (&(usize, TraceLine), &TraceLine))| *n == i + 1 && a == b;
        if read_back.len() != lines.len() || !read_back.iter().zip(&lines).enumerate().all(same) {
            let at = read_back
                .iter()
                .zip(&lines)
                .enumerate()
                .position(|x| !same(x))
                .unwrap_or(read_back.len().min(lines.len()));
            return Err(with_trace(fail(format!(
                "the transcript does not read back as itself from line {}",
                at + 1
            ))));
        }
    }
    // so what `cobrowse check` reads is `lines`, numbered from 1; the scenario line of each trace line, and of each record
    let mut cause = Vec::with_capacity(lines.len());
    let mut current = None;
    for l in &lines {
        if let TraceLine::Step(s) = l {
            current = Some(s);
        }
        cause.push(current);
    }
    let judged = |v: &Violation, step: Option<&Step>| {
        crate::judged(v.invariant, direct_api)
            && !(v.invariant == Invariant::RefusedNoEffect && step.is_some_and(feeds_unrecorded))
    };
    let in_trace = |v: &Violation| cause.get(v.line.wrapping_sub(1)).copied().flatten();
    // a group the app chose itself with a direct `api` init, other than the config's
    let mut choice = GroupChoice::default();
    for (i, l) in lines.iter().enumerate() {
        choice.observe(i + 1, l);
    }
    // the simulator's transcript is the reference controller's: its replay is judged too
    let options = CheckOptions::default().with_reference_controller(true);
    let mut oracle = Oracle::with_options(options);
    for (i, l) in lines.iter().enumerate() {
        oracle.observe(i + 1, l);
    }
    if let Some(v) = oracle
        .finish()
        .iter()
        .find(|v| judged(v, in_trace(v)) && !(direct_api && choice.excused(v)))
    {
        return Err(with_trace(fail(headline(v))));
    }
    // records only, as `cobrowse run` prints them: after the config line when it sets a key
    // of spec.md §13.1 (the consent policy is judged by it)
    let bare_lines: Vec<(usize, TraceLine)> = plain(parsed, &records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let offset = bare_lines.len() - records.len();
    let of_record = |v: &Violation| {
        records
            .get(v.line.wrapping_sub(1 + offset))
            .and_then(|r| parsed.get(r.step))
    };
    // a plain trace cannot show a relaunch (spec.md §13.2: no record kind of its own): the
    // invariants that pair records across it (the warning banner, the link) would read two
    // processes as one, so a scenario with a relaunch is judged interleaved only
    let relaunched = parsed.iter().any(|s| matches!(s, Step::Relaunch { .. }));
    let bare = if relaunched {
        Vec::new()
    } else {
        check_trace(&bare_lines)
    };
    // (a group the app chose itself with a direct `init_visitor` is excused on the interleaved
    // reading above, by `GroupChoice`; read plain after the config line, the config's group is
    // the reference again, so INV-GROUP-STABLE adds nothing here then)
    if let Some(v) = bare
        .iter()
        .find(|v| judged(v, of_record(v)) && !(direct_api && v.invariant == Invariant::GroupStable))
    {
        return Err(with_trace(fail(format!(
            "{} (records only, record {})",
            headline(v),
            v.line.saturating_sub(offset)
        ))));
    }
    // progress (spec.md §10.4): INV-AGREEMENT after every step, then the heal suffix and
    // LIVE-INIT, LIVE-PRESENCE, LIVE-SESSION-RESOLVES, LIVE-GUEST-COUNT, then the background
    // suffix and LIVE-BACKGROUND-SUSPEND; not for an app that calls the SDK directly
    if !direct_api {
        let mut found = agreement;
        found.extend(
            liveness::heal_and_judge(&again, parsed.len()).map_err(|e| fail(e.to_string()))?,
        );
        if let Some(f) = found.first() {
            return Err(fail(format!(
                "{f} (after the heal suffix of spec.md §10.4)"
            )));
        }
        // LIVE-RESTART-TRANSPARENT: the same scenario relaunched after the line the input
        // chose (when the world is settled there with the link up, §10.4)
        if let (Some(p), false) = (scenario.relaunch_probe.checked_sub(1), parsed.is_empty()) {
            let k = usize::from(p) % parsed.len();
            let away = u64::from(scenario.relaunch_probe) * 7_919 % 59_999;
            if let Some(f) =
                liveness::restart_transparent(parsed, k, away).map_err(|e| fail(e.to_string()))?
            {
                return Err(fail(format!("{f} (spec.md §10.4)")));
            }
        }
    }
    Ok(())
}

/// Whether every step, written as [`scenario_jsonl`] writes it, reads back as itself
/// ([`crate::memo`]) and only the first is a `config` line: exactly when
/// `parse_scenario(&scenario_jsonl(steps))` gives `steps` back.
fn every_step_reads_back(steps: &[Step]) -> bool {
    steps.iter().enumerate().all(|(i, s)| {
        (i == 0 || !matches!(s, Step::Config(_))) && crate::memo::scenario_step_reads_back(s)
    })
}

/// Whether every line of `lines`, written as [`trace_jsonl`] writes it, reads back as
/// itself ([`crate::memo`]). The reader reads line by line, so this is exactly whether
/// `parse_trace(&trace_jsonl(lines))` gives `lines` back, numbered from 1.
fn every_line_reads_back(lines: &[TraceLine]) -> bool {
    lines.iter().all(crate::memo::trace_line_reads_back)
}

/// Whether `sim::World` feeds the SDK, under this one scenario line, an input the transcript
/// does not record after other inputs: every wake-up of an `advance_ms` but the first, the
/// `terminate` after `exit`'s calls. A `send` such an input causes after a refused input of the
/// same line looks in the transcript exactly like an effect of the refusal, so
/// INV-REFUSED-NO-EFFECT (no `send` after a refusal until the next api/recv record or step)
/// cannot be judged there (`drive_core` gives such inputs lines of their own and judges it).
pub fn feeds_unrecorded(step: &Step) -> bool {
    matches!(step, Step::AdvanceMs(_) | Step::User(UserIntent::Exit))
}

/// Whether the scenario reader refuses one of the scenario's lines on its own (a value the
/// contract's reader does not take, like a config with group id 0 or a week-long advance).
pub fn reader_refuses(scenario: &FuzzScenario) -> bool {
    scenario
        .lines()
        .iter()
        .any(|s| parse_scenario(&scenario_jsonl(std::slice::from_ref(s))).is_err())
}

fn headline(v: &Violation) -> String {
    format!(
        "{} violated at line {}: {}",
        v.invariant.id(),
        v.line,
        v.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario_files() -> Vec<(String, Vec<Step>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.display().to_string(), parse_scenario(&text).unwrap()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn every_scenario_file_reads_back_from_its_seed_and_runs_clean() {
        let files = scenario_files();
        assert!(!files.is_empty());
        for (name, steps) in files {
            let s = FuzzScenario::from_steps(&steps);
            let read = FuzzScenario::read(&s.write());
            assert_eq!(read, s, "{name}");
            assert_eq!(read.lines(), steps, "{name}");
            if let Err(f) = run(&read) {
                panic!("{name}: {f}");
            }
        }
    }
}
