//! For harnesses that judge simulated worlds with direct `api` steps (the model tests, the
//! fuzz targets): which `INV-GROUP-STABLE` violations are the app's own choice of group.

use super::{Invariant, Violation};
use crate::transcript::{Observed, Record, Step, TraceLine};
use cobrowse_visitor_core::{ApiCall, ClientFrame};

/// The group the app itself chose. With direct `api` steps an app can make the first accepted
/// `init_visitor` carry another group id than the config's (the SDK cannot know the config).
/// The SDK then rightly holds to that first group (S-A02, refusing the controller's config
/// group), and the oracle flags every accepted init with it against the config
/// (`INV-GROUP-STABLE`): the app's misuse, which the SDK could not have prevented. An
/// accepted init with any other group than the first one's is still the SDK's doing, and is
/// never excused.
///
/// A `relaunch` step (spec.md §13.2) is a new process, whose first accepted init the app may
/// choose again (a trace cannot always tell a restored process from a new one: with the
/// network down both say only `EventConnectionWarning`; a restored core refuses another
/// group, S-A02, so its acceptance is left to INV-SDK-REPLAY); `INV-RESTORE-GROUP` at such an
/// init, or at a `send init` that carries the chosen group, is excused the same way.
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
    /// The group id of the first accepted `init_visitor` of the current process.
    first: Option<i32>,
    /// The group id of the first accepted `init_visitor` of the trace: the reference group
    /// without a config line (INV-GROUP-STABLE, INV-RESTORE-GROUP).
    first_ever: Option<i32>,
    /// The lines of accepted `init_visitor` records carrying `first`, when that is not the
    /// config's group.
    with_first: Vec<usize>,
    /// The lines of `send init` records carrying the group of the first accepted init of
    /// their process.
    sent_first: Vec<usize>,
    /// An earlier process's first accepted init carried another group than the config's
    /// (or there is no config line): that group.
    chose_before: bool,
    earlier_first: Option<i32>,
    /// The lines of accepted inits with another group than that choice's in a later process:
    /// the app split the visitor across groups itself.
    back_to_config: Vec<usize>,
    /// A relaunch came, after which an accepted init carried another group than the reference
    /// (the config's, else the trace's first accepted init's; the line of the first such
    /// init): from there on, which process holds which group is the app's doing, and group
    /// violations are its own.
    chose_after_relaunch: Option<usize>,
    relaunched: bool,
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
        if let Step::Relaunch { .. } = step {
            self.relaunched = true;
            // a new process chooses its group again
            if self.first.is_some() && self.first != self.config_group {
                self.chose_before = true;
                self.earlier_first = self.first;
            }
            self.first = None;
        }
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
        if let Observed::Send(f) = &r.observed {
            if let (Some("init"), Some(first)) = (f.frame_type(), self.first) {
                let group = match f.typed() {
                    Some(ClientFrame::Init { group_id, .. }) => Some(i64::from(*group_id)),
                    _ => f
                        .to_json()
                        .get("group_id")
                        .and_then(serde_json::Value::as_i64),
                };
                if group == Some(i64::from(first)) && self.config_group != Some(first) {
                    self.sent_first.push(line);
                }
            }
        }
        if let Observed::Api(ApiCall::InitVisitor(p)) = &r.observed {
            self.pending = Some((line, r.step, p.group_id));
        }
    }

    /// The pending record was not refused.
    fn settle(&mut self) {
        if let Some((line, _, group)) = self.pending.take() {
            let first = *self.first.get_or_insert(group);
            let first_ever = *self.first_ever.get_or_insert(group);
            let reference = self.config_group.unwrap_or(first_ever);
            // the app's choice: its process's first group, which is not the config's
            if group == first && self.config_group.is_some_and(|g| g != first) {
                self.with_first.push(line);
            }
            if self.chose_before && Some(group) != self.earlier_first {
                self.back_to_config.push(line);
            }
            if self.relaunched && reference != group && self.chose_after_relaunch.is_none() {
                self.chose_after_relaunch = Some(line);
            }
        }
    }

    /// Whether `v` is the app's choice of group: an `INV-GROUP-STABLE` violation at an
    /// accepted `init_visitor` that carries the first accepted group id, when that is not the
    /// config's.
    pub fn excused(&self, v: &Violation) -> bool {
        let mut now = self.clone();
        now.settle();
        if matches!(
            v.invariant,
            Invariant::GroupStable | Invariant::RestoreGroup
        ) && now.chose_after_relaunch.is_some_and(|at| v.line >= at)
        {
            return true;
        }
        match v.invariant {
            Invariant::GroupStable => {
                now.with_first.contains(&v.line) || now.back_to_config.contains(&v.line)
            }
            Invariant::RestoreGroup => {
                now.with_first.contains(&v.line)
                    || now.sent_first.contains(&v.line)
                    || now.back_to_config.contains(&v.line)
            }
            _ => false,
        }
    }
}
