//! The rest of a visitor session, spec.md §10.2 (issue 15): `INV-PAUSE-RUNNING`,
//! `INV-PAUSE-SHOWN`, `INV-MESSAGE-IN-SESSION`, `INV-RESTORE-KEY-HIDDEN`,
//! `INV-RESTORE-GROUP`. Written from spec.md's rules (§5.6, §6.1, §10.2, §13.2), not from the
//! core.
//!
//! A session *runs* from its `EventConnectedToSession` until its `EventSessionEnded` (or an
//! accepted `end_session`, after which it is ending: S-A101, S-A111, S-A121 refuse then). A
//! `relaunch` scenario line (§13.2) does not end it: a restored core continues a running
//! session without a new `EventConnectedToSession` (S-R01), or ends it with
//! `EventSessionEnded` (S-R02).

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen, SessionPhase};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::{SentFrame, Step};
use cobrowse_visitor_core::{ApiCall, ClientFrame, UiDirective, UiElement};
use serde_json::Value;

/// Whether a session runs, from the events and accepted calls of a trace.
#[derive(Clone, Debug, Default)]
struct Running {
    /// The running session's key and key type (`EventConnectedToSession`).
    session: Option<(String, String)>,
    /// An accepted `end_session` while it ran: it is ending.
    ending: bool,
}

impl Running {
    /// Follows one record.
    fn on(&mut self, seen: &Seen<'_>) {
        match seen {
            Seen::Event {
                code: "EventConnectedToSession",
                sessionkey,
                event,
            } => {
                self.session = Some((
                    sessionkey.unwrap_or_default().to_owned(),
                    event
                        .prop("keytype")
                        .map(|k| k.into_owned())
                        .unwrap_or_default(),
                ));
                self.ending = false;
            }
            Seen::Event {
                code: "EventSessionEnded",
                ..
            } => {
                self.session = None;
                self.ending = false;
            }
            Seen::Accepted(ApiCall::EndSession) if self.session.is_some() => self.ending = true,
            _ => {}
        }
    }

    /// A session runs and is not ending: by this tracker and by the reader, whose session
    /// phase also knows what a `relaunch` dropped (§13.2).
    fn runs(&self, ctx: &Reading) -> bool {
        self.session.is_some() && !self.ending && ctx.session() == SessionPhase::Running
    }
}

/// `INV-PAUSE-RUNNING`: an accepted `pause` only while a session runs (between its
/// `EventConnectedToSession` and its end).
#[derive(Clone, Debug, Default)]
pub(super) struct PauseRunning {
    running: Running,
}

impl Check for PauseRunning {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if let Seen::Accepted(ApiCall::Pause { paused }) = rec.seen {
            if !self.running.runs(ctx) {
                out.push(violation(
                    Invariant::PauseRunning,
                    rec.line,
                    format!("pause({paused}) was accepted while no session runs (none connected, or it is ending): only a running session can be paused (S-A101)"),
                ));
            }
        }
        self.running.on(&rec.seen);
    }
}

/// `INV-MESSAGE-IN-SESSION`: `EventMessageReceived` only while a session runs; an accepted
/// `send_user_message` or `set_user_state` only while a session runs.
#[derive(Clone, Debug, Default)]
pub(super) struct MessageInSession {
    running: Running,
}

impl Check for MessageInSession {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let what = match rec.seen {
            Seen::Event {
                code: "EventMessageReceived",
                ..
            } => Some("EventMessageReceived came"),
            Seen::Accepted(ApiCall::SendUserMessage { .. }) => {
                Some("send_user_message was accepted")
            }
            Seen::Accepted(ApiCall::SetUserState { .. }) => Some("set_user_state was accepted"),
            _ => None,
        };
        if let Some(what) = what {
            if !self.running.runs(ctx) {
                out.push(violation(
                    Invariant::MessageInSession,
                    rec.line,
                    format!("{what} while no session runs: user messages and states belong to a running session (S-F30, S-A111, S-A121)"),
                ));
            }
        }
        self.running.on(&rec.seen);
    }
}

/// `INV-PAUSE-SHOWN` (*steps*, the crate's controller): at the end of every step,
/// `session_paused` is shown exactly when a session is connected (from its
/// `EventConnectedToSession` until its `EventSessionEnded`, an accepted `end_session` not
/// ending it here; a `relaunch` that drops it, §5.6, does) and the latest accepted `pause` in
/// it said `true`; a `relaunch` empties the screen (a new process), whose controller draws
/// again what it shows (a session ending at the relaunch has no notice any more: S-R04
/// keeps no pause).
#[derive(Clone, Debug, Default)]
pub(super) struct PauseShown {
    /// Judged (the trace is the crate's controller's).
    judged: bool,
    running: Running,
    /// The latest accepted `pause` in the connected session said `true`.
    paused: bool,
    /// The last `session_paused` directive was `show`.
    shown: bool,
    /// The step being read: its index and line; whether the trace is interleaved.
    step: Option<(usize, usize)>,
    interleaved: bool,
    /// An `api` step came (the app called the SDK itself).
    direct: bool,
    /// Already flagged: one violation per trace is enough to read it.
    flagged: bool,
}

impl PauseShown {
    /// Judged for the crate's controller only.
    pub(super) fn for_reference_controller(judged: bool) -> Self {
        PauseShown {
            judged,
            ..PauseShown::default()
        }
    }

    /// The step at `line` ended: the screen must agree.
    fn judge(&mut self, line: usize, out: &mut Vec<Violation>) {
        if !self.judged || self.direct || self.flagged || !self.interleaved {
            return;
        }
        let owed = self.running.session.is_some() && self.paused;
        if owed != self.shown {
            self.flagged = true;
            let message = if owed {
                "the step ended with the connected session paused by the app, but session_paused is not shown (C-U80, C-R01)"
            } else {
                "the step ended with session_paused shown, but no connected session is paused (C-U80, C-E12)"
            };
            out.push(violation(Invariant::PauseShown, line, message.to_owned()));
        }
    }

    /// The reader says no session is on (a relaunch dropped it, §13.2): neither is ours.
    fn follow(&mut self, ctx: &Reading) {
        if ctx.session() == SessionPhase::Idle {
            self.running.session = None;
            self.paused = false;
        }
    }
}

impl Check for PauseShown {
    fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.step = Some((index, line));
        self.interleaved = ctx.has_scenario();
        match step {
            Step::Api(_) => self.direct = true,
            Step::Relaunch { .. } => {
                self.shown = false;
                // a session ending at the relaunch continues without its pause (S-R04 keeps
                // only its key type; C-R01 draws nothing of it)
                if self.running.ending {
                    self.paused = false;
                }
                self.follow(ctx);
                // the restored controller drops a session that does not run in the restored
                // core (ending, or started without `persist`: C-R01), and its notice with it
                if ctx.session() != SessionPhase::Running {
                    self.running.session = None;
                    self.paused = false;
                }
            }
            _ => {}
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        self.follow(ctx);
        match rec.seen {
            Seen::Accepted(ApiCall::Pause { paused }) if self.running.runs(ctx) => {
                self.paused = *paused;
            }
            // a session started `paused` is paused from its start (S-F10, C-E10)
            Seen::Event {
                code: "EventConnectedToSession",
                ..
            } => self.paused = ctx.start_options().paused,
            Seen::Ui(UiDirective::Show {
                element: UiElement::SessionPaused,
                ..
            }) => self.shown = true,
            Seen::Ui(UiDirective::Hide {
                element: UiElement::SessionPaused,
            }) => self.shown = false,
            _ => {}
        }
        self.running.on(&rec.seen);
        if self.running.session.is_none() {
            self.paused = false;
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        if let Some((index, line)) = self.step {
            if Some(index) != current {
                self.step = None;
                self.judge(line, out);
            }
        }
    }
}

/// `INV-START-OPTIONS`: every `send start_session` for an accepted `start_session` (the
/// first, and one sent again after a loss, S-N02) carries that call's `max_guests` and
/// `paused` (§8.1: `max_guests` present only when set, `paused` only when `true`).
#[derive(Clone, Debug, Default)]
pub(super) struct StartOptionsSent {
    /// The accepted start's `max_guests` and `paused`, until its session connects, fails or
    /// ends (no start is sent for it after that).
    owed: Option<(Option<i32>, bool)>,
}

/// A sent `start_session`'s `max_guests` and `paused`, typed or as written (absent: none and
/// `false`; a field of another type reads as a value no call has).
fn sent_start_options(frame: &SentFrame) -> (Option<i64>, bool) {
    match frame {
        SentFrame::Typed(ClientFrame::StartSession {
            max_guests, paused, ..
        }) => (max_guests.map(i64::from), *paused),
        SentFrame::Typed(_) => (None, false),
        SentFrame::Json(v) => (
            v.get("max_guests").map(|m| m.as_i64().unwrap_or(i64::MIN)),
            v.get("paused").is_some_and(|p| p.as_bool() != Some(false)),
        ),
    }
}

impl Check for StartOptionsSent {
    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Accepted(ApiCall::StartSession(p)) => {
                self.owed = Some((p.options.max_guests, p.options.paused));
            }
            Seen::Event {
                code: "EventConnectedToSession" | "EventStartSessionFailed" | "EventSessionEnded",
                ..
            } => self.owed = None,
            Seen::Send(frame) if rec.seen.sent_type() == Some("start_session") => {
                if let Some((max_guests, paused)) = self.owed {
                    let sent = sent_start_options(frame);
                    if sent != (max_guests.map(i64::from), paused) {
                        let shown = |(m, p): (Option<i64>, bool)| {
                            format!(
                                "max_guests {}, paused {p}",
                                m.map_or("absent".to_owned(), |m| m.to_string())
                            )
                        };
                        out.push(violation(
                            Invariant::StartOptions,
                            rec.line,
                            format!(
                                "send start_session carries {}, but the accepted start_session asked for {}: the service enforces the start's options (S-A20, S-N02, §13.2)",
                                shown(sent),
                                shown((max_guests.map(i64::from), paused))
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `INV-PERSIST` (*steps*): after a `relaunch` at which a session started without `persist`
/// ran, no `send resume_session` carries its key; with the crate's controller, no
/// `session_key`, `session_indicator` or `session_paused` is shown for it, until its
/// `EventSessionEnded` (the restored core ends it, S-R04).
#[derive(Clone, Debug, Default)]
pub(super) struct Persist {
    /// The screen is judged (the trace is the crate's controller's).
    judged: bool,
    running: Running,
    /// The session was started without `persist` (from its `EventConnectedToSession`).
    not_persisted: bool,
    /// A session not persisted ran at a relaunch: its key and the relaunch's line.
    dropped: Option<(String, usize)>,
    /// An `api` step came (the app called the SDK itself: its screen is its own).
    direct: bool,
}

impl Persist {
    /// The screen is judged for the crate's controller only.
    pub(super) fn for_reference_controller(judged: bool) -> Self {
        Persist {
            judged,
            ..Persist::default()
        }
    }
}

impl Check for Persist {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        line: usize,
        _index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        match step {
            Step::Api(_) => self.direct = true,
            Step::Relaunch { .. } => {
                if let (Some((key, _)), true, false) = (
                    &self.running.session,
                    self.not_persisted,
                    self.running.ending,
                ) {
                    self.dropped = Some((key.clone(), line));
                }
            }
            _ => {}
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        // the session is gone (a refused restore at the relaunch, §13.2)
        if ctx.session() == SessionPhase::Idle {
            self.dropped = None;
        }
        if let Some((key, at)) = &self.dropped {
            let what = match rec.seen {
                Seen::Send(frame)
                    if frame.frame_type() == Some("resume_session")
                        && sent_field(frame, "sessionkey")
                            .as_ref()
                            .and_then(Value::as_str)
                            == Some(key.as_str()) =>
                {
                    Some("send resume_session carries its key")
                }
                Seen::Ui(UiDirective::Show { element, .. })
                    if self.judged
                        && !self.direct
                        && matches!(
                            element,
                            UiElement::SessionKey
                                | UiElement::SessionIndicator
                                | UiElement::SessionPaused
                        ) =>
                {
                    Some("the screen shows it")
                }
                _ => None,
            };
            if let Some(what) = what {
                out.push(violation(
                    Invariant::Persist,
                    rec.line,
                    format!("the session {key} was started without persist and ran at the relaunch at line {at}, but {what}: it must not outlive its process (§5.6, C-R01)"),
                ));
                self.dropped = None; // one violation per session is enough to read it
            }
        }
        if let Seen::Event {
            code: "EventConnectedToSession",
            ..
        } = rec.seen
        {
            self.not_persisted = !ctx.start_options().persist;
        }
        self.running.on(&rec.seen);
        if self.running.session.is_none() {
            self.not_persisted = false;
            self.dropped = None;
        }
    }
}

/// `INV-RESTORE-KEY-HIDDEN` (*steps*): a one-click session (`EventConnectedToSession` with
/// `keytype` `visitor_id`) that is still running at a `relaunch` never shows `session_key`
/// from the relaunch until its `EventSessionEnded`.
#[derive(Clone, Debug, Default)]
pub(super) struct RestoreKeyHidden {
    running: Running,
    /// A one-click session continued across a relaunch: the relaunch's line.
    continued: Option<usize>,
}

impl Check for RestoreKeyHidden {
    fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        _index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        if let Step::Relaunch { .. } = step {
            let one_click = self.running.runs(ctx)
                && matches!(&self.running.session, Some((_, t)) if t == "visitor_id");
            if one_click {
                self.continued = Some(line);
            }
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        // the session is gone (a refused restore at the relaunch, §13.2)
        if ctx.session() == SessionPhase::Idle {
            self.continued = None;
        }
        if let (
            Seen::Ui(UiDirective::Show {
                element: UiElement::SessionKey,
                ..
            }),
            Some(at),
        ) = (rec.seen, self.continued)
        {
            out.push(violation(
                Invariant::RestoreKeyHidden,
                rec.line,
                format!("session_key was shown for the one-click session continued across the relaunch at line {at}: a restored one-click session never shows its key (C-R01)"),
            ));
        }
        self.running.on(&rec.seen);
        if self.running.session.is_none() {
            self.continued = None;
        }
    }
}

/// `INV-RESTORE-GROUP` (*steps*): after a `relaunch`, every accepted `init_visitor` and every
/// `send init` carries the reference group id (the config's, else the first accepted
/// `init_visitor`'s); and a session running at the relaunch is resumed with its own key (a
/// `send resume_session` with another `sessionkey` is a violation).
#[derive(Clone, Debug, Default)]
pub(super) struct RestoreGroup {
    /// The first accepted `init_visitor`'s group id in the current app (since the latest
    /// relaunch that came back new, `restore_refused`), with that app's number.
    first_group: Option<i32>,
    app: u32,
    running: Running,
    /// A relaunch came.
    relaunched: bool,
    /// The key of the session running at the latest relaunch, until its first resume.
    resume_key: Option<String>,
}

impl RestoreGroup {
    fn reference(&self, ctx: &Reading) -> Option<i32> {
        ctx.config_group().or(self.first_group)
    }
}

/// A sent frame's field as an integer or a string, whether typed or kept as written.
fn sent_field(frame: &SentFrame, field: &str) -> Option<Value> {
    match frame {
        SentFrame::Typed(ClientFrame::Init { group_id, .. }) if field == "group_id" => {
            Some(Value::from(*group_id))
        }
        SentFrame::Typed(ClientFrame::ResumeSession { sessionkey }) if field == "sessionkey" => {
            Some(Value::from(sessionkey.clone()))
        }
        SentFrame::Typed(_) => None,
        SentFrame::Json(v) => v.get(field).cloned(),
    }
}

impl Check for RestoreGroup {
    fn on_step(
        &mut self,
        ctx: &Reading,
        _line: usize,
        _index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        if let Step::Relaunch { .. } = step {
            self.relaunched = true;
            self.resume_key = if self.running.runs(ctx) {
                self.running.session.as_ref().map(|(k, _)| k.clone())
            } else {
                None
            };
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        // the session is gone (a refused restore at the relaunch, §13.2)
        if ctx.session() == SessionPhase::Idle {
            self.resume_key = None;
        }
        // a relaunch that came back new is a new app: no restore carried a group into it
        if ctx.new_apps() != self.app {
            self.app = ctx.new_apps();
            self.first_group = None;
        }
        match rec.seen {
            Seen::Accepted(ApiCall::InitVisitor(p)) => {
                if let (true, Some(g)) = (self.relaunched, self.reference(ctx)) {
                    if p.group_id != g {
                        out.push(violation(
                            Invariant::RestoreGroup,
                            rec.line,
                            format!("init_visitor with group id {} was accepted after a relaunch; the app's group id is {g} (a restore never changes it, §5.6)", p.group_id),
                        ));
                    }
                }
                self.first_group.get_or_insert(p.group_id);
            }
            Seen::Send(frame) if self.relaunched => match rec.seen.sent_type() {
                Some("init") => {
                    let sent = sent_field(frame, "group_id").and_then(|v| v.as_i64());
                    if let (Some(sent), Some(g)) = (sent, self.reference(ctx)) {
                        if sent != i64::from(g) {
                            out.push(violation(
                                Invariant::RestoreGroup,
                                rec.line,
                                format!("init with group id {sent} was sent after a relaunch; the app's group id is {g} (a restore never changes it, §5.6)"),
                            ));
                        }
                    }
                }
                Some("resume_session") => {
                    let sent = sent_field(frame, "sessionkey");
                    if let Some(key) = self.resume_key.take() {
                        if sent.as_ref().and_then(Value::as_str) != Some(key.as_str()) {
                            out.push(violation(
                                Invariant::RestoreGroup,
                                rec.line,
                                format!("the session running at the relaunch (key {key}) was resumed with another key ({}): a restore continues the same session (S-R01)", sent.map(|v| v.to_string()).unwrap_or_default()),
                            ));
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        self.running.on(&rec.seen);
        if self.running.session.is_none() {
            self.resume_key = None;
        }
    }
}
