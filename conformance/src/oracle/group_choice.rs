//! For harnesses that judge simulated worlds with direct `api` steps (the model tests, the
//! fuzz targets): which `INV-GROUP-STABLE` violations are the app's own choice of group.

use super::{Invariant, Violation};
use crate::transcript::{Observed, Record, Step, TraceLine};
use cobrowse_visitor_core::ApiCall;

/// The group the app itself chose. With direct `api` steps an app can make the first accepted
/// `init_visitor` carry another group id than the config's (the SDK cannot know the config).
/// The SDK then rightly holds to that first group (S-A02, refusing the controller's config
/// group), and the oracle flags every accepted init with it against the config
/// (`INV-GROUP-STABLE`): the app's misuse, which the SDK could not have prevented. An
/// accepted init with any other group than the first one's is still the SDK's doing, and is
/// never excused.
///
/// Fed the lines of an interleaved trace in order, numbered as the oracle numbers them; an
/// `api` record is refused, as the oracle reads it, when the very next record is an `error` or
/// a refusal event of the same step.
#[derive(Clone, Debug, Default)]
pub struct GroupChoice {
    /// Scenario lines seen.
    steps: usize,
    config_group: Option<i32>,
    /// The latest `init_visitor` record, until the next line says whether it was refused:
    /// its line, step and group id.
    pending: Option<(usize, usize, i32)>,
    /// The group id of the first accepted `init_visitor`.
    first: Option<i32>,
    /// The lines of accepted `init_visitor` records carrying `first`.
    with_first: Vec<usize>,
}

impl GroupChoice {
    /// The choice made in `lines` (numbered trace lines, as for `check_trace`).
    pub fn of(lines: &[(usize, TraceLine)]) -> Self {
        let mut choice = GroupChoice::default();
        for (n, l) in lines {
            choice.observe(*n, l);
        }
        choice
    }

    /// One trace line, at `line`.
    pub fn observe(&mut self, line: usize, item: &TraceLine) {
        match item {
            TraceLine::Step(s) => self.observe_step(s),
            TraceLine::Record(r) => self.observe_record(line, r),
        }
    }

    /// A scenario line.
    pub fn observe_step(&mut self, step: &Step) {
        self.settle();
        if let (0, Step::Config(c)) = (self.steps, step) {
            self.config_group = Some(c.group_id);
        }
        self.steps = self.steps.saturating_add(1);
    }

    /// A record at `line`.
    pub fn observe_record(&mut self, line: usize, r: &Record) {
        if let Some((_, step, _)) = self.pending {
            let refusal = match &r.observed {
                Observed::Error(_) => true,
                Observed::Event(e) => {
                    e.code() == "EventInvalidState" || e.code() == "EventInvalidParameter"
                }
                _ => false,
            };
            if refusal && r.step == step {
                self.pending = None;
            }
        }
        self.settle();
        if let Observed::Api(ApiCall::InitVisitor(p)) = &r.observed {
            self.pending = Some((line, r.step, p.group_id));
        }
    }

    /// The pending record was not refused.
    fn settle(&mut self) {
        if let Some((line, _, group)) = self.pending.take() {
            let first = *self.first.get_or_insert(group);
            if group == first {
                self.with_first.push(line);
            }
        }
    }

    /// Whether `v` is the app's choice of group: an `INV-GROUP-STABLE` violation at an
    /// accepted `init_visitor` that carries the first accepted group id, when that is not the
    /// config's.
    pub fn excused(&self, v: &Violation) -> bool {
        let mut now = self.clone();
        now.settle();
        v.invariant == Invariant::GroupStable
            && now.config_group.is_some_and(|g| now.first != Some(g))
            && now.with_first.contains(&v.line)
    }
}
