//! The input alphabets: what a generated case may do, at three levels.
//!
//! - [`WorldTransition`]: a contract scenario step (user intents, agent actions, lifecycle,
//!   network, time, direct `api` calls), played by the simulator. Failing cases print as the
//!   contract's JSON Lines, which `cobrowse run` reproduces.
//! - [`SdkTransition`]: a raw input to the SDK core (API calls valid and misused, server frames
//!   in and out of order, lifecycle, network, timers, time going backwards).
//! - [`CtlTransition`]: a raw input to the integration controller (user intents, any SDK event
//!   in any order, lifecycle).

use super::reference::{CtlStep, MCtl, MSdk, MWorld, SdkStep};
use cobrowse_visitor_conformance::transcript::Step;
use cobrowse_visitor_core::Input;
use std::fmt;

/// One scenario step, or "advance to the next deadline" (resolved against the model when it
/// is applied, so that shrinking keeps it meaningful).
#[derive(Clone, PartialEq, Eq)]
pub enum WorldTransition {
    Step(Step),
    /// `advance_ms` to the next armed deadline, plus `delta` ms (−1: just before it).
    AdvanceToDeadline(i8),
}

impl fmt::Debug for WorldTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorldTransition::Step(s) => write!(f, "{}", s.to_json()),
            WorldTransition::AdvanceToDeadline(d) => write!(f, "advance_to_deadline{d:+}"),
        }
    }
}

/// The model world and the concrete scenario so far (config line first).
#[derive(Clone)]
pub struct WorldModel {
    pub world: MWorld,
    pub steps: Vec<Step>,
    /// Whether this case may use direct `api` steps.
    pub misuse: bool,
}

impl fmt::Debug for WorldModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{}", s.to_json())?;
        }
        Ok(())
    }
}

impl WorldModel {
    /// The concrete step `t` stands for in this state.
    pub fn resolve(&self, t: &WorldTransition) -> Step {
        match t {
            WorldTransition::Step(s) => s.clone(),
            WorldTransition::AdvanceToDeadline(delta) => {
                let w = &self.world;
                let ms = match w.sdk.next_deadline() {
                    Some(d) => (d.saturating_sub(w.now) as i64 + i64::from(*delta)).max(0),
                    None => 1_000,
                };
                Step::AdvanceMs(ms as u64)
            }
        }
    }

    pub fn apply(mut self, t: &WorldTransition) -> Self {
        let step = self.resolve(t);
        self.steps.push(step.clone());
        self.world.apply(self.steps.len() - 1, &step);
        self
    }
}

/// A raw SDK core input, with the harness's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkTransition {
    /// This input at the harness's `now`.
    Input(Input),
    /// Time passes by `ms`; every due timer fires at its deadline (the single-mutation rule).
    Advance(u64),
    /// Time passes to the next deadline plus `delta` ms.
    ToDeadline(i8),
    /// `Input::Timeout` at `now`, before any deadline (a spurious wake-up).
    EarlyTimeout,
    /// Time passes by `ms` and one `Input::Timeout` comes late, at the end (a caller that
    /// overslept: §2 allows `t' ≥ t`): every timer due by then fires in that one input.
    LateTimeout(u64),
    /// This input 1 ms before the last one's time (refused: time went backwards).
    Backwards(Input),
}

/// The model core, the harness clock, and what the last transition fed (each input with its
/// time and the model's expectation).
#[derive(Clone, Default)]
pub struct SdkModel {
    pub sdk: MSdk,
    pub now: u64,
    pub last: Vec<(u64, Input, SdkStep)>,
}

impl fmt::Debug for SdkModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SdkModel {{ now: {} }}", self.now)
    }
}

impl SdkModel {
    fn feed(&mut self, at: u64, input: Input) {
        let step = self.sdk.input(at, &input);
        self.sdk = step.next.clone();
        self.last.push((at, input, step));
    }

    fn advance_to(&mut self, target: u64) {
        while let Some(d) = self.sdk.next_deadline().filter(|d| *d <= target) {
            self.now = self.now.max(d);
            self.feed(self.now, Input::Timeout);
        }
        self.now = self.now.max(target);
    }

    pub fn apply(mut self, t: &SdkTransition) -> Self {
        self.last.clear();
        match t {
            SdkTransition::Input(i) => self.feed(self.now, i.clone()),
            SdkTransition::Advance(ms) => self.advance_to(self.now.saturating_add(*ms)),
            SdkTransition::ToDeadline(delta) => {
                let target = match self.sdk.next_deadline() {
                    Some(d) => (d as i64 + i64::from(*delta)).max(self.now as i64) as u64,
                    None => self.now + 1_000,
                };
                self.advance_to(target);
            }
            SdkTransition::EarlyTimeout => self.feed(self.now, Input::Timeout),
            SdkTransition::LateTimeout(ms) => {
                self.now = self.now.saturating_add(*ms);
                self.feed(self.now, Input::Timeout);
            }
            SdkTransition::Backwards(i) => {
                if let Some(at) = self.sdk.now.checked_sub(1) {
                    self.feed(at, i.clone());
                }
            }
        }
        self
    }
}

/// A raw controller input: the crate's own alphabet.
pub type CtlTransition = cobrowse_visitor_core::ControllerInput;

/// The model controller and its expectation for the last transition.
#[derive(Clone)]
pub struct CtlModel {
    pub ctl: MCtl,
    pub last: Option<CtlStep>,
}

impl fmt::Debug for CtlModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CtlModel {{ custom_ui: {} }}", self.ctl.custom_ui)
    }
}

impl CtlModel {
    pub fn apply(mut self, t: &CtlTransition) -> Self {
        let step = match t {
            CtlTransition::User(i) => self.ctl.user(i),
            CtlTransition::Event(e) => self.ctl.event(e),
            CtlTransition::Lifecycle(_) => self.ctl.lifecycle(),
        };
        self.ctl = step.next.clone();
        self.last = Some(step);
        self
    }
}
