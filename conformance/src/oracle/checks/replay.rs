//! The machines' own records, replayed (spec.md §10.2): `INV-SDK-REPLAY` and
//! `INV-CONTROLLER-REPLAY`.
//!
//! The SDK core and the integration controller are functions of their inputs (§2), and an
//! interleaved trace shows every input: the `api` and `recv` records, the `lifecycle`,
//! `network`, `advance_ms` and `exit` scenario lines, the `user` lines and the events. So the
//! records each machine writes are decided by the trace itself: this checker feeds the
//! crate's own machines the trace's inputs in the trace's order and compares what they give
//! with the trace's records, channel by channel:
//!
//! - the SDK's channel: every `send` and `event` record is the SDK's next output, in order;
//!   an `api` or `recv` record is refused (an `error` record next) exactly when the SDK refuses
//!   it; an `api` or `recv` record comes only once the SDK's earlier outputs are all recorded
//!   (outputs are drained at once, §2); and a step ends with none left unrecorded. Timers fire
//!   at their deadlines inside `advance_ms` as the records need them (so an `api` record after
//!   a wake-up is fed at that wake-up's time), and `exit`'s terminate comes after the
//!   controller's calls (§13);
//! - the controller's channel: every `ui` record, and every `api` record that is not an `api`
//!   scenario line's own call, is the controller's next output for the `user` and `lifecycle`
//!   lines and the events so far; a `user` line is refused (an `error` record first) exactly
//!   when the controller refuses it; and a step ends with none left unrecorded.
//!
//! The two channels may interleave however the IO does; within each, the order is the
//! machine's. A trace the crate's machines would not write is flagged once, at the first
//! record that differs (after that the replay has nothing to stand on), and only if the trace
//! records the wire (a `send` or a `recv` record somewhere): a trace of an app's calls and
//! events alone leaves the frames out by design. Other SDKs' traces are held to the same rows
//! (spec.md is normative for the SDK); the contract itself does not ask this.

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::{EventRecord, Step, WireFrame};
use cobrowse_visitor_core::{
    ApiCall, Controller, ControllerConfig, ControllerOutput, Event, Input, Instant, Lifecycle,
    NetworkChange, Output, Sdk, SdkConfig, StartKey, StartOptions, StartParams, UserIntent,
    GLANCE_KEYTYPE_RANDOM,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

/// Most timer wake-ups in a row that one `advance_ms` replays without the clock moving on
/// (a timer that stays due after it fired would wake the SDK for ever; a trace that needs
/// more is flagged rather than replayed without end). Wake-ups that move the clock are
/// bounded by the step's target instead: a long offline `advance_ms` wakes a backing-off
/// presence connect once per backoff, thousands of times, and that is the SDK's due.
const MAX_WAKES: usize = 10_000;

/// An input record waiting for the line that says whether it was refused.
#[derive(Clone, Copy, Debug)]
struct Awaiting {
    line: usize,
    api: bool,
    refused: bool,
}

/// Both machines, fed the trace's inputs.
#[derive(Clone, Debug)]
pub(super) struct Replay {
    sdk: Sdk,
    controller: Controller,
    /// The SDK's outputs not yet recorded.
    sdk_out: VecDeque<Output>,
    /// The controller's outputs not yet recorded.
    controller_out: VecDeque<ControllerOutput>,
    now: Instant,
    link_up: bool,
    /// The step being read: its index and line.
    step: Option<(usize, usize)>,
    /// The end of the current `advance_ms`.
    target: Option<Instant>,
    /// In an accepted `exit` step: whether the terminate was fed yet.
    exit: Option<bool>,
    /// In an `api` step: its own call has not come yet.
    direct_call: bool,
    /// The current step is an `agent` line (only the service can refuse it).
    agent_step: bool,
    /// The current step is a `user` line.
    step_is_user: bool,
    /// The controller refused the current `user` line: its `error` record must come first.
    user_refused: bool,
    /// The current step's first record came.
    any_record: bool,
    awaiting: Option<Awaiting>,
    /// A difference was found: nothing more is judged.
    broken: bool,
    /// The first difference, reported at the end if the trace records the wire.
    found: Option<Violation>,
    /// A `send` record came; a `recv` record came.
    wire: (bool, bool),
    /// Whether the controller's channel is judged (`INV-CONTROLLER-REPLAY`): only for a trace
    /// written by this crate's controller; the contract leaves an app free in its own UI and
    /// the order of its calls.
    reference_controller: bool,
    /// The SDK before a `start_session {key: "GLANCE_KEYTYPE_RANDOM"}` record was fed, with
    /// the length of its output queue: the contract writes the custom key of that text (which
    /// the SDK refuses, S-A25) the same way, so a refusal there is the custom key's.
    /// The call's options are kept for the custom key's reading of it.
    undo: Option<(Box<Sdk>, usize, StartOptions)>,
    /// The machines' configurations (the config line's), for a relaunched process.
    sdk_config: SdkConfig,
    controller_config: ControllerConfig,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            sdk: Sdk::new(SdkConfig::default()),
            controller: Controller::new(ControllerConfig::default()),
            sdk_out: VecDeque::new(),
            controller_out: VecDeque::new(),
            now: Instant::ZERO,
            link_up: true,
            step: None,
            target: None,
            exit: None,
            direct_call: false,
            agent_step: false,
            step_is_user: false,
            user_refused: false,
            any_record: false,
            awaiting: None,
            broken: false,
            found: None,
            wire: (false, false),
            reference_controller: false,
            undo: None,
            sdk_config: SdkConfig::default(),
            controller_config: ControllerConfig::default(),
        }
    }
}

/// What a difference is about.
#[derive(Clone, Copy)]
enum Channel {
    Sdk,
    Controller,
}

impl Replay {
    /// Judges the controller's channel too (see [`Replay::reference_controller`]).
    pub(super) fn with_reference_controller() -> Self {
        Replay {
            reference_controller: true,
            ..Replay::default()
        }
    }

    /// The first difference: reported at the end, if the trace records the wire (a `send` or
    /// a `recv` record somewhere).
    fn flag(&mut self, channel: Channel, line: usize, message: String, _out: &mut Vec<Violation>) {
        if self.broken {
            return;
        }
        self.broken = true;
        let invariant = match channel {
            Channel::Sdk => Invariant::SdkReplay,
            Channel::Controller => Invariant::ControllerReplay,
        };
        self.found = Some(violation(invariant, line, message));
    }

    /// Feeds the SDK one input at the replay's time and queues what it gives (a `Connect`
    /// answered at once when the link is up, as the IO layer does); whether it refused.
    fn feed(&mut self, input: Input) -> bool {
        let refused = self.sdk.handle_input(self.now, input).is_err();
        self.drain();
        refused
    }

    fn drain(&mut self) {
        loop {
            match self.sdk.poll_output() {
                Output::Timeout(_) => break,
                Output::Connect => {
                    if self.link_up {
                        let _ = self
                            .sdk
                            .handle_input(self.now, Input::Network(NetworkChange::Restored));
                    }
                }
                o => self.sdk_out.push_back(o),
            }
        }
    }

    /// The controller hears an event the SDK delivered (when its channel is judged).
    fn controller_event(&mut self, e: &cobrowse_visitor_core::Event) {
        if self.reference_controller {
            self.controller.handle_event(e);
            self.drain_controller();
        }
    }

    fn drain_controller(&mut self) {
        while let Some(o) = self.controller.poll_output() {
            // an agent signal is handed to the app's own code: no record shows it (§3.4)
            if !matches!(
                o,
                ControllerOutput::AgentSignal { .. } | ControllerOutput::AgentMessage { .. }
            ) {
                self.controller_out.push_back(o);
            }
        }
    }

    /// Inputs no record shows, as far as the next output needs them: the next timer of the
    /// current `advance_ms` (once the controller has nothing left to say: a wake-up comes
    /// only when the world has settled), then `exit`'s terminate. Whether it stayed within
    /// [`MAX_WAKES`] wake-ups at one instant.
    fn feed_unrecorded(&mut self) -> bool {
        let mut wakes = 0usize;
        while self.sdk_out.is_empty() && self.controller_out.is_empty() {
            let due = match (self.sdk.poll_timeout(), self.target) {
                (Some(t), Some(target)) if t <= target => Some(t),
                (Some(t), None) if t <= self.now => Some(t),
                _ => None,
            };
            if let Some(t) = due {
                if t > self.now {
                    wakes = 0;
                } else {
                    wakes = wakes.saturating_add(1);
                    if wakes > MAX_WAKES {
                        return false;
                    }
                }
                self.now = self.now.max(t);
                self.feed(Input::Timeout);
                continue;
            }
            if self.exit == Some(false) {
                self.exit = Some(true);
                self.feed(Input::Lifecycle(Lifecycle::Terminate));
                continue;
            }
            break;
        }
        true
    }

    /// Resolves a pending input record as accepted or refused.
    fn resolve(&mut self, refused: bool, out: &mut Vec<Violation>) {
        let Some(a) = self.awaiting.take() else {
            return;
        };
        let undo = self.undo.take();
        if let (Some((sdk, len, options)), false, true) = (undo, a.refused, refused) {
            // the custom key `GLANCE_KEYTYPE_RANDOM`, which the SDK refuses
            self.sdk = *sdk;
            self.sdk_out.truncate(len);
            let key = StartKey::Custom(GLANCE_KEYTYPE_RANDOM.to_owned());
            if self.feed(Input::Api(ApiCall::StartSession(StartParams {
                key,
                options,
            }))) {
                return;
            }
        }
        if a.refused != refused {
            let what = if a.api { "call" } else { "frame" };
            let (sdk, trace) = if a.refused {
                ("refuses", "accepts")
            } else {
                ("accepts", "refuses")
            };
            self.flag(
                Channel::Sdk,
                a.line,
                format!("the SDK {sdk} this {what}, the trace {trace} it"),
                out,
            );
        }
    }

    /// An `api` or `recv` record may only come once the SDK's earlier outputs are recorded.
    fn drained(
        &mut self,
        line: usize,
        what: &dyn std::fmt::Display,
        out: &mut Vec<Violation>,
    ) -> bool {
        if let Some(next) = self.sdk_out.front() {
            let message = format!(
                "{what} before the SDK's earlier output {} was recorded (outputs are drained at once)",
                describe(next)
            );
            self.flag(Channel::Sdk, line, message, out);
            return false;
        }
        true
    }

    /// The next SDK output, for a `send` or `event` record at `line`.
    fn next_sdk_output(&mut self, line: usize, out: &mut Vec<Violation>) -> Option<Output> {
        if !self.feed_unrecorded() {
            self.flag(
                Channel::Sdk,
                line,
                format!("more than {MAX_WAKES} timer wake-ups in a row without the clock moving"),
                out,
            );
            return None;
        }
        let next = self.sdk_out.pop_front();
        if next.is_none() {
            let message = if self.controller_out.is_empty() {
                "the SDK has no output to record here".to_owned()
            } else {
                "the SDK has no output to record until the controller's outputs are".to_owned()
            };
            self.flag(Channel::Sdk, line, message, out);
        }
        next
    }

    /// The current step is over: what is left to feed is fed, and nothing may be left.
    fn close_step(&mut self, out: &mut Vec<Violation>) {
        let Some((_, line)) = self.step.take() else {
            return;
        };
        self.resolve_implicit(out);
        if self.broken {
            return;
        }
        if self.user_refused {
            self.flag(
                Channel::Controller,
                line,
                "the controller refuses this step, but no `error` record came first".to_owned(),
                out,
            );
            return;
        }
        if let Some(o) = self.controller_out.front() {
            let message = format!(
                "the step ended with the controller's output {} unrecorded",
                describe_controller(o)
            );
            self.flag(Channel::Controller, line, message, out);
            return;
        }
        if !self.feed_unrecorded() {
            self.flag(
                Channel::Sdk,
                line,
                format!("more than {MAX_WAKES} timer wake-ups in a row without the clock moving"),
                out,
            );
            return;
        }
        if let Some(o) = self.sdk_out.front() {
            let message = format!(
                "the step ended with the SDK's output {} unrecorded",
                describe(o)
            );
            self.flag(Channel::Sdk, line, message, out);
            return;
        }
        if let Some(target) = self.target.take() {
            self.now = self.now.max(target);
        }
        self.exit = None;
    }

    /// A `relaunch` line (§13.2): both machines are snapshotted at the replay's time, `away_ms`
    /// pass, and they come back restored (or new without a snapshot), as the world does; what
    /// the restored machines queue is the step's to record.
    fn relaunch(&mut self, away_ms: u64) {
        let sdk_snapshot = self.sdk.snapshot(self.now.as_millis());
        let controller_snapshot = self.controller.snapshot();
        self.sdk_out.clear();
        self.controller_out.clear();
        self.now = self.now.saturating_add(Duration::from_millis(away_ms));
        // the app keeps its SDK's snapshot whenever there is one (the world does, §13.2); the
        // controller comes back from its own, or new and unlaunched without one
        let restored = sdk_snapshot.and_then(|s| {
            Sdk::restore(
                self.sdk_config.clone(),
                s,
                self.controller_config.group_id,
                self.now,
                self.now.as_millis(),
            )
            .ok()
        });
        let new = restored.is_none();
        let (sdk, controller) = match restored {
            Some(sdk) => {
                let controller = controller_snapshot
                    .and_then(|c| Controller::restore(self.controller_config.clone(), c, &sdk).ok())
                    .unwrap_or_else(|| Controller::new(self.controller_config.clone()));
                (sdk, controller)
            }
            None => (
                Sdk::new(self.sdk_config.clone()),
                Controller::new(self.controller_config.clone()),
            ),
        };
        self.sdk = sdk;
        self.controller = controller;
        self.drain();
        if new && !self.link_up {
            self.feed(Input::Network(NetworkChange::Lost));
        }
        if self.reference_controller {
            self.drain_controller();
        } else {
            while self.controller.poll_output().is_some() {}
        }
    }

    /// A `recv` record not refused by the line after it was accepted.
    fn resolve_implicit(&mut self, out: &mut Vec<Violation>) {
        if matches!(self.awaiting, Some(a) if !a.api) {
            self.resolve(false, out);
        }
    }
}

impl Check for Replay {
    fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        out: &mut Vec<Violation>,
    ) {
        if self.broken {
            return;
        }
        if let Step::Config(c) = step {
            if index == 0 {
                self.controller_config = ControllerConfig {
                    group_id: c.group_id,
                    custom_ui: c.custom_ui,
                    limits: c.limits,
                    start: c.start_options,
                };
                self.controller = Controller::new(self.controller_config.clone());
                // the app's consent policy and limits are the SDK's configuration (§3.3a)
                self.sdk_config = SdkConfig {
                    consent_policy: c.consent_policy,
                    limits: c.limits,
                    ..SdkConfig::default()
                };
                self.sdk = Sdk::new(self.sdk_config.clone());
            }
            return;
        }
        if !ctx.has_scenario() {
            return;
        }
        self.close_step(out);
        if self.broken {
            return;
        }
        self.step = Some((index, line));
        self.direct_call = false;
        self.agent_step = matches!(
            step,
            Step::Agent(_) | Step::AgentSignal { .. } | Step::AgentMessage { .. }
        );
        self.step_is_user = matches!(step, Step::User(_));
        self.user_refused = false;
        self.any_record = false;
        match step {
            Step::User(intent) if self.reference_controller => {
                let exit = matches!(intent, UserIntent::Exit);
                match self.controller.handle_user(intent.clone()) {
                    Ok(()) => {
                        self.drain_controller();
                        if exit {
                            self.exit = Some(false);
                        }
                    }
                    Err(_) => self.user_refused = true,
                }
            }
            // the app's own integration: an `exit` it refuses says so with an `error` first
            Step::User(UserIntent::Exit) => self.exit = Some(false),
            Step::User(_) => {}
            Step::Lifecycle(l) => {
                self.feed(Input::Lifecycle(*l));
                if self.reference_controller {
                    self.controller.handle_lifecycle(*l);
                    self.drain_controller();
                }
            }
            Step::Network(n) => {
                self.link_up = *n == NetworkChange::Restored;
                self.feed(Input::Network(*n));
            }
            Step::AdvanceMs(ms) => {
                self.target = Some(self.now.saturating_add(Duration::from_millis(*ms)));
            }
            Step::Api(_) => self.direct_call = true,
            Step::Relaunch { away_ms } => self.relaunch(*away_ms),
            Step::Config(_)
            | Step::Agent(_)
            | Step::AgentSignal { .. }
            | Step::AgentMessage { .. } => {}
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Send(_) => self.wire.0 = true,
            Seen::Received(_) => self.wire.1 = true,
            _ => {}
        }
        if self.broken || !ctx.has_scenario() || self.step.is_none() {
            return;
        }
        let first = !self.any_record;
        self.any_record = true;
        if self.user_refused {
            if first && matches!(rec.seen, Seen::StepRefused) {
                self.user_refused = false;
            } else {
                self.flag(
                    Channel::Controller,
                    rec.line,
                    "the controller refuses this step's intent, so its first record is an `error`"
                        .to_owned(),
                    out,
                );
            }
            return;
        }
        match rec.seen {
            Seen::Asked(call) => {
                self.resolve_implicit(out);
                if self.direct_call {
                    self.direct_call = false;
                } else if self.reference_controller {
                    match self.controller_out.pop_front() {
                        Some(ControllerOutput::Call(c)) if c == *call => {}
                        other => {
                            let message = format!(
                                "the controller's next output is {}, not the call `{}`",
                                other
                                    .as_ref()
                                    .map_or("nothing".to_owned(), describe_controller),
                                call.name()
                            );
                            return self.flag(Channel::Controller, rec.line, message, out);
                        }
                    }
                }
                // (the call's name is written only into a violation)
                if self.drained(rec.line, &format_args!("`{}`", call.name()), out) {
                    self.undo = match call {
                        ApiCall::StartSession(StartParams {
                            key: StartKey::Random,
                            options,
                        }) => Some((Box::new(self.sdk.clone()), self.sdk_out.len(), *options)),
                        _ => None,
                    };
                    let refused = self.feed(Input::Api(call.clone()));
                    self.awaiting = Some(Awaiting {
                        line: rec.line,
                        api: true,
                        refused,
                    });
                }
            }
            Seen::Received(frame) => {
                self.resolve_implicit(out);
                if !self.drained(rec.line, &"a received frame", out) {
                    return;
                }
                let refused = match frame {
                    // what `handle_bytes` does with this frame's bytes: decode (which gives
                    // this frame back), validate, handle (its size check cannot refuse a
                    // frame that validates: a reason is at most 256 bytes and a key 63, far
                    // below `MAX_FRAME_BYTES` even escaped)
                    WireFrame::Typed(f) => {
                        f.validate().is_err()
                            || self
                                .sdk
                                .handle_input(self.now, Input::Frame(f.clone()))
                                .is_err()
                    }
                    WireFrame::Json(v) => {
                        let bytes = serde_json::to_vec(v).unwrap_or_default();
                        self.sdk.handle_bytes(self.now, &bytes).is_err()
                    }
                };
                self.drain();
                self.awaiting = Some(Awaiting {
                    line: rec.line,
                    api: false,
                    refused,
                });
            }
            Seen::Accepted(_) => self.resolve(false, out),
            Seen::RefusedCall(_) | Seen::RefusedFrame => self.resolve(true, out),
            Seen::Send(frame) => {
                self.resolve_implicit(out);
                match self.next_sdk_output(rec.line, out) {
                    Some(Output::Transmit(f)) if frame.is(&f) => {}
                    Some(o) => {
                        let message =
                            format!("the SDK's next output is {}, not this frame", describe(&o));
                        self.flag(Channel::Sdk, rec.line, message, out);
                    }
                    None => {}
                }
            }
            Seen::Event { event, .. } => {
                self.resolve_implicit(out);
                match self.next_sdk_output(rec.line, out) {
                    Some(Output::Event(e)) if is_event(&e, event) => self.controller_event(&e),
                    Some(o) => {
                        let message =
                            format!("the SDK's next output is {}, not this event", describe(&o));
                        self.flag(Channel::Sdk, rec.line, message, out);
                    }
                    None => {}
                }
            }
            Seen::Ui(_) if !self.reference_controller => self.resolve_implicit(out),
            Seen::Ui(ui) => {
                self.resolve_implicit(out);
                match self.controller_out.pop_front() {
                    Some(ControllerOutput::Ui(u)) if u == *ui => {}
                    other => {
                        let message = format!(
                            "the controller's next output is {}, not this `ui` directive",
                            other
                                .as_ref()
                                .map_or("nothing".to_owned(), describe_controller)
                        );
                        self.flag(Channel::Controller, rec.line, message, out);
                    }
                }
            }
            Seen::StepRefused => {
                // a `user` line the reference controller refuses is handled above; any other
                // refused step (an agent's action the service refused, bytes the SDK could
                // not decode, an intent the app's own integration refused) changed nothing
                // either machine shows, except that an `exit` refused terminates nothing
                self.exit = None;
                if self.reference_controller && !self.agent_step && self.step_is_user {
                    self.flag(
                        Channel::Controller,
                        rec.line,
                        "an `error` record that refuses this step, which neither machine refuses"
                            .to_owned(),
                        out,
                    );
                }
            }
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        if matches!(self.step, Some((index, _)) if Some(index) != current) {
            self.close_step(out);
        }
    }

    fn finish(&mut self, _ctx: &Reading, out: &mut Vec<Violation>) {
        // a trace that leaves out the frames (an app that records its calls and events only)
        // cannot be replayed: the SDK's sends and the service's answers are missing by design
        if self.wire != (false, false) {
            out.extend(self.found.take());
        }
    }
}

/// The SDK's event `e` is the one `rec` records (see [`same_event`]).
fn is_event(e: &Event, rec: &EventRecord) -> bool {
    matches!(rec, EventRecord::Typed(x) if x == e)
        || same_event(&EventRecord::Typed(e.clone()), rec)
}

/// Two event records say the same: the code, and every property as text (other SDKs may
/// write a number where this crate writes a string).
fn same_event(a: &EventRecord, b: &EventRecord) -> bool {
    if let (EventRecord::Typed(x), EventRecord::Typed(y)) = (a, b) {
        if x == y {
            return true;
        }
    }
    a.code() == b.code()
        && a.property_count() == b.property_count()
        && a.property_names().iter().all(|k| a.prop(k) == b.prop(k))
}

/// An SDK output, for messages.
fn describe(o: &Output) -> String {
    match o {
        Output::Event(e) => format!("event `{}`", e.code()),
        Output::Transmit(f) => format!(
            "send `{}`",
            serde_json::to_value(f)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default()
        ),
        Output::Connect => "connect".to_owned(),
        Output::Timeout(_) => "timeout".to_owned(),
    }
}

/// A controller output, for messages.
fn describe_controller(o: &ControllerOutput) -> String {
    match o {
        ControllerOutput::Call(c) => format!("call `{}`", c.name()),
        ControllerOutput::Ui(u) => format!("ui `{}`", serde_json::to_string(u).unwrap_or_default()),
        ControllerOutput::AgentSignal { event, .. } => format!("agent signal `{event}`"),
        ControllerOutput::AgentMessage { name, .. } => format!("agent message `{name}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_compare_by_text() {
        let a: EventRecord = serde_json::from_str(
            r#"{"code":"EventGuestCountChange","properties":{"guestcount":"2"}}"#,
        )
        .unwrap();
        let b: EventRecord = serde_json::from_str(
            r#"{"code":"EventGuestCountChange","properties":{"guestcount":2}}"#,
        )
        .unwrap();
        let c: EventRecord = serde_json::from_str(
            r#"{"code":"EventGuestCountChange","properties":{"guestcount":"3"}}"#,
        )
        .unwrap();
        assert!(same_event(&a, &b));
        assert!(!same_event(&a, &c));
    }
}
