//! The invariant oracle: the one place where every invariant of the visitor flow is written
//! down as code.
//!
//! `cobrowse check`, the property tests and the fuzz targets all judge with this module; no
//! invariant has a second copy anywhere.
//!
//! - Transcript-visible invariants (the contract's twelve and the spec's own) are judged by
//!   [`Oracle`], a streaming checker fed one trace line at a time: O(1) work per line and
//!   memory bounded by the (small, fixed) state it tracks plus the violations it found.
//! - Machine-level invariants, which a transcript cannot show, are small pure functions in
//!   [`machine`] that property tests and fuzz targets call with the values they hold.
//!
//! ## How a trace is read
//!
//! - **Refusals.** An `api` record is refused when the very next record is an `error` record or
//!   an `EventInvalidState` / `EventInvalidParameter` event of the same step (for
//!   `presence_signal_agent` and `presence_signal_visibility`, also `EventPresenceSendFail`); a `recv` record
//!   is refused when the very next record is an `error` record of the same step. Invariants
//!   judge only calls and frames that were not refused. (The same-step condition keeps an
//!   `error` that refuses the *next* scenario step from being read as the refusal of the last
//!   call of the step before, in a transcript without interleaved scenario lines.)
//! - **Causes.** When scenario lines are interleaved ([`TraceLine::Step`]), the cause of a
//!   record is the scenario line whose 0-based index (config line included) is its `step`.
//!   Invariants that need causes ([`Invariant::needs_scenario`]) are skipped, never guessed,
//!   for a trace without scenario lines. With scenario lines and no config line the contract's
//!   defaults apply (`custom_ui: true`).
//! - **The config line.** A first `config` line (interleaved, or before a plain trace's
//!   records) sets what is judged: `custom_ui`, and the group id `INV-GROUP-STABLE` holds every
//!   accepted `init_visitor` to. Without one, that reference is the first accepted
//!   `init_visitor`'s group id.
//! - **Per-step judgements** ("leads to", "follows within its step") are made when a line of
//!   another step (a record with another `step`, or a new scenario line) arrives, or at
//!   [`Oracle::finish`].
//!
//! ## Where things are
//!
//! - `reader.rs`: the reader, everything about reading a trace that is no one invariant's:
//!   the refusal lookahead, the causes, the per-step judgement points, and the facts several
//!   invariants read (the session, the visitor id, whether the visitor is initialized).
//! - `checks/`: one checker per transcript-visible invariant (one file per invariant or small
//!   family), each with only the state its invariant needs; `checks/mod.rs` maps each
//!   invariant to its checker.
//! - `invariant.rs`: [`Invariant`] (IDs, kinds, each one's rule and reason as its rustdoc)
//!   and [`Violation`].
//! - `machine.rs`: [`machine`], the machine-level invariants.
//! - `group_choice.rs`: [`GroupChoice`], for harnesses of worlds with direct `api` steps:
//!   which `INV-GROUP-STABLE` violations are the app's own choice of group.

use crate::transcript::{Record, Step, TraceLine};

mod checks;
mod group_choice;
mod invariant;
pub mod machine;
mod reader;

use checks::Checks;
pub use group_choice::GroupChoice;
use invariant::violation;
pub use invariant::{Invariant, InvariantKind, Violation};
pub use reader::Unusable;
use reader::{ErrorPlace, Layout, Reader};

/// The streaming invariant checker for transcripts.
///
/// Feed every line in order with [`Oracle::observe`] (or [`Oracle::observe_record`] /
/// [`Oracle::observe_step`]); read [`Oracle::violations`] at any time for what is certain so
/// far; call [`Oracle::finish`] at the end for the full list, including what only the end can
/// judge. Work per line is O(1); memory is a fixed state plus the violations found.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    /// What the trace has shown so far, and the record waiting for its lookahead.
    reader: Reader,
    /// The trace's layout, for [`Oracle::read`].
    layout: Layout,
    /// Where an `error` record may stand, for [`Oracle::read`].
    error_place: ErrorPlace,
    /// One checker per invariant.
    checks: Checks,
    violations: Vec<Violation>,
}

/// What a check judges beyond the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The trace was written by this crate's integration controller (`cobrowse run`, the
    /// bindings' controller): judge `INV-CONTROLLER-REPLAY` too, so every `ui` record and every
    /// call the controller makes must be the one §6 gives. Off by default: the contract leaves
    /// an app's own integration free in its UI and in the order of its calls.
    pub reference_controller: bool,
    /// The invariants not judged ([`CheckOptions::skipping`]): bit `k` for the `k`-th of
    /// [`Invariant::ALL`]. None by default.
    skipped: u64,
}

impl CheckOptions {
    /// These options with [`CheckOptions::reference_controller`] set to `on`.
    pub fn with_reference_controller(mut self, on: bool) -> Self {
        self.reference_controller = on;
        self
    }

    /// These options with `invariant` not judged: its checker does not run and no violation
    /// of it is reported; every other invariant is judged exactly as before (each checker
    /// keeps only its own state). For a caller that sets some verdicts aside anyway, which
    /// then need not cost anything: the fuzz target `drive_core` does not judge the replay
    /// or the trace-time progress properties (it wakes the core late and feeds it what no
    /// trace shows, on purpose). An invariant no checker judges (`INV-REFUSED-UNCHANGED`,
    /// say) changes nothing.
    pub fn skipping(mut self, invariant: Invariant) -> Self {
        self.skipped |= Self::bit(invariant);
        self
    }

    /// Whether these options judge `invariant` (all do but those [`CheckOptions::skipping`]
    /// names).
    pub fn judges(&self, invariant: Invariant) -> bool {
        self.skipped & Self::bit(invariant) == 0
    }

    fn bit(invariant: Invariant) -> u64 {
        const _: () = assert!(Invariant::ALL.len() <= 64, "one bit per invariant");
        Invariant::ALL
            .iter()
            .position(|i| *i == invariant)
            .map_or(0, |k| 1 << k)
    }
}

impl Oracle {
    /// A checker before the first line.
    pub fn new() -> Self {
        Oracle::default()
    }

    /// A checker before the first line that judges with `options`.
    pub fn with_options(options: CheckOptions) -> Self {
        Oracle {
            checks: Checks::new(options),
            ..Oracle::default()
        }
    }

    /// The violations found so far (those that need the end of the trace come from
    /// [`Oracle::finish`]).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Feeds one trace line; `line` is its 1-based line number.
    pub fn observe(&mut self, line: usize, item: &TraceLine) {
        match item {
            TraceLine::Step(step) => self.observe_step(line, step),
            TraceLine::Record(record) => self.observe_record(line, record),
        }
    }

    /// Feeds one trace line after checking the contract's reading rules ("Reading a trace":
    /// `config` only first; a plain trace has no scenario line after its records; in an
    /// interleaved trace every record's `step` is the index of the latest scenario line; an
    /// `error` record refuses the `api` / `recv` record just before it or its step).
    /// A line that breaks one is not fed, and the trace cannot be judged: stop there.
    /// (Record shapes are [`crate::transcript::parse_trace`]'s to refuse.)
    pub fn read(&mut self, line: usize, item: &TraceLine) -> Result<(), Unusable> {
        self.layout.admit(line, item)?;
        self.error_place.admit(line, item)?;
        self.observe(line, item);
        Ok(())
    }

    /// Whether the lines read so far are an interleaved trace (a scenario line other than
    /// the config came).
    pub fn interleaved(&self) -> bool {
        matches!(self.layout, Layout::Interleaved { .. })
    }

    /// Feeds one scenario line (the same as [`Oracle::observe`] with [`TraceLine::Step`]).
    pub fn observe_step(&mut self, line: usize, step: &Step) {
        self.reader
            .step(line, step, &mut self.checks, &mut self.violations);
    }

    /// Feeds one transcript record (the same as [`Oracle::observe`] with
    /// [`TraceLine::Record`]).
    pub fn observe_record(&mut self, line: usize, record: &Record) {
        self.reader
            .record(line, record, &mut self.checks, &mut self.violations);
    }

    /// Ends the trace: judges what only the end can judge and returns every violation, in
    /// line order.
    pub fn finish(mut self) -> Vec<Violation> {
        self.reader.finish(&mut self.checks, &mut self.violations);
        self.violations.sort_by_key(|v| v.line);
        self.violations
    }
}

/// Checks transcript records produced in memory; a violation's line is the record's 1-based
/// index in `records`.
pub fn check_records(records: &[Record]) -> Vec<Violation> {
    let mut oracle = Oracle::new();
    for (i, r) in records.iter().enumerate() {
        oracle.observe_record(i.saturating_add(1), r);
    }
    oracle.finish()
}

/// Checks a parsed trace ([`crate::transcript::parse_trace`]'s output: lines with their
/// 1-based numbers).
pub fn check_trace(lines: &[(usize, TraceLine)]) -> Vec<Violation> {
    check_trace_with(lines, CheckOptions::default())
}

/// [`check_trace`] with `options`.
pub fn check_trace_with(lines: &[(usize, TraceLine)], options: CheckOptions) -> Vec<Violation> {
    let mut oracle = Oracle::with_options(options);
    for (n, item) in lines {
        oracle.observe(*n, item);
    }
    oracle.finish()
}

/// Checks a parsed trace by the contract's reading rules first ([`Oracle::read`]): the
/// violations, or the first line that makes the trace unusable.
pub fn read_trace(lines: &[(usize, TraceLine)]) -> Result<Vec<Violation>, Unusable> {
    read_trace_with(lines, CheckOptions::default())
}

/// [`read_trace`] with `options`.
pub fn read_trace_with(
    lines: &[(usize, TraceLine)],
    options: CheckOptions,
) -> Result<Vec<Violation>, Unusable> {
    let mut oracle = Oracle::with_options(options);
    for (n, item) in lines {
        oracle.read(*n, item)?;
    }
    Ok(oracle.finish())
}

/// A plain trace of a scenario's transcript (contract, "Reading a trace"): the records, after
/// the scenario's config line when it sets a key of spec.md §13.1
/// ([`crate::transcript::ScenarioConfig::beyond_contract`]), as `cobrowse run` prints them
/// without `--interleave`.
pub fn plain(steps: &[Step], records: &[Record]) -> Vec<TraceLine> {
    let config = match steps.first() {
        Some(Step::Config(c)) if c.beyond_contract() => {
            Some(TraceLine::Step(Step::Config(c.clone())))
        }
        _ => None,
    };
    config
        .into_iter()
        .chain(records.iter().cloned().map(TraceLine::Record))
        .collect()
}

/// Interleaves a scenario with its transcript: each scenario line comes just before the
/// first record it caused (and scenario lines that caused nothing stay in order), as
/// `cobrowse run --interleave` prints them.
pub fn interleave(steps: &[Step], records: &[Record]) -> Vec<TraceLine> {
    let mut out = Vec::with_capacity(steps.len().saturating_add(records.len()));
    let mut next_step = 0;
    for r in records {
        while next_step <= r.step {
            let Some(s) = steps.get(next_step) else {
                break;
            };
            out.push(TraceLine::Step(s.clone()));
            next_step = next_step.saturating_add(1);
        }
        out.push(TraceLine::Record(r.clone()));
    }
    out.extend(
        steps
            .iter()
            .skip(next_step)
            .map(|s| TraceLine::Step(s.clone())),
    );
    out
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod old;
#[cfg(test)]
mod tests;
