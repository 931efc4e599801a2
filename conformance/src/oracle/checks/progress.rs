//! Progress on a trace, in the trace's own time (spec.md §10.4): `LIVE-INIT`,
//! `LIVE-PRESENCE`, `LIVE-SESSION-RESOLVES`, `LIVE-GUEST-COUNT` and `LIVE-BACKGROUND-SUSPEND`.
//! Time is the sum of the `advance_ms` scenario lines, so these are
//! judged on interleaved traces only; an obligation is judged at the end of the first step
//! that takes the trace's time to its deadline (the SDK's own timer fires within that step).

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen, SessionPhase};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::{AgentAction, Step};
use cobrowse_visitor_core::{
    ApiCall, Lifecycle, NetworkChange, TermsStatus, UserIntent, TERMS_EVENT,
};

/// `init_timeout` (spec.md §7).
const INIT_BOUND_MS: u64 = 10_000;
/// `start_timeout`.
const START_BOUND_MS: u64 = 15_000;
/// `end_timeout`, with the link up.
const END_BOUND_MS: u64 = 5_000;
/// `session_grace` plus twice `end_timeout`: an end while the link is down, or lost
/// meanwhile. Worst case: the end is made offline, its timer finds the link down at +5 s
/// (S-T04b arms the grace: +65 s), the link comes back just before the grace ends and the
/// re-sent `end_session` waits its own `end_timeout` (S-N02, S-T04): +70 s.
const END_OFFLINE_BOUND_MS: u64 = 70_000;

/// An obligation: what must come by `deadline` (trace time), raised at `line`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    line: usize,
    deadline: u64,
}

/// The trace's clock: the sum of its `advance_ms` lines.
#[derive(Clone, Debug, Default)]
struct Clock {
    now: u64,
    /// Whether the step being read advanced the clock.
    advanced: bool,
    /// The index of the step being read.
    index: Option<usize>,
}

impl Clock {
    fn on_step(&mut self, index: usize, step: &Step) {
        self.index = Some(index);
        self.advanced = false;
        if let Step::AdvanceMs(ms) = step {
            self.now = self.now.saturating_add(*ms);
            self.advanced = true;
        }
    }
}

/// `LIVE-INIT`: an accepted `init_visitor` is followed by `EventVisitorInitialized` within
/// `init_timeout` of the latest `init_visitor` (a re-init before the answer restarts the
/// lookup, S-A03).
#[derive(Clone, Debug, Default)]
pub(super) struct InitCompletes {
    clock: Clock,
    pending: Option<Pending>,
}

impl Check for InitCompletes {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
        // an app that exits before the lookup answers is never initialised (S-L05); a
        // relaunched process does not finish the old one's lookup (§5.6: restored, it is done)
        if matches!(step, Step::User(UserIntent::Exit) | Step::Relaunch { .. }) {
            self.pending = None;
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        match rec.seen {
            Seen::Accepted(ApiCall::InitVisitor(_)) => {
                self.pending = Some(Pending {
                    line: rec.line,
                    deadline: self.clock.now.saturating_add(INIT_BOUND_MS),
                });
            }
            Seen::Event {
                code: "EventVisitorInitialized",
                ..
            } => self.pending = None,
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.pending,
            Invariant::InitCompletes,
            "init_visitor was not followed by EventVisitorInitialized within init_timeout (10 s)",
            out,
        );
    }
}

/// `LIVE-SESSION-RESOLVES`: an accepted `start_session` is followed by
/// `EventConnectedToSession` or `EventStartSessionFailed` within `start_timeout`; an accepted
/// `end_session` by `EventSessionEnded` (or `EventStartSessionFailed`, for a start it
/// abandoned) within `end_timeout` with the link up, `session_grace` + 2 × `end_timeout` once the
/// link is down.
#[derive(Clone, Debug, Default)]
pub(super) struct SessionResolves {
    clock: Clock,
    start: Option<Pending>,
    end: Option<Pending>,
    /// An `EventConnectionWarning` not yet cleared.
    offline: bool,
}

impl Check for SessionResolves {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
        // a start or end in flight is gone with the old process (§5.6)
        if let Step::Relaunch { .. } = step {
            self.start = None;
            self.end = None;
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        let now = self.clock.now;
        match rec.seen {
            Seen::Accepted(ApiCall::StartSession(_)) => {
                self.start = Some(Pending {
                    line: rec.line,
                    deadline: now.saturating_add(START_BOUND_MS),
                });
            }
            Seen::Accepted(ApiCall::EndSession) => {
                // the end replaces the start it abandons (S-A31)
                self.start = None;
                let bound = if self.offline {
                    END_OFFLINE_BOUND_MS
                } else {
                    END_BOUND_MS
                };
                self.end = Some(Pending {
                    line: rec.line,
                    deadline: now.saturating_add(bound),
                });
            }
            Seen::Event { code, .. } => match code {
                "EventConnectedToSession" => self.start = None,
                "EventStartSessionFailed" => {
                    self.start = None;
                    self.end = None;
                }
                "EventSessionEnded" => self.end = None,
                "EventConnectionWarning" => {
                    self.offline = true;
                    // an end in flight now waits for the link or the grace (S-T04b, S-T05b)
                    if let Some(end) = &mut self.end {
                        end.deadline = end.deadline.max(now.saturating_add(END_OFFLINE_BOUND_MS));
                    }
                }
                "EventClearWarning" => self.offline = false,
                _ => {}
            },
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.start,
            Invariant::SessionResolves,
            "start_session was not resolved (EventConnectedToSession or EventStartSessionFailed) within start_timeout (15 s)",
            out,
        );
        judge(
            &self.clock,
            current,
            &mut self.end,
            Invariant::SessionResolves,
            "end_session was not followed by EventSessionEnded within its bound (5 s online, 70 s offline)",
            out,
        );
    }
}

/// At the end of a step that moved the clock (a line of step `current` came, or the trace
/// ended): an obligation past its deadline is a violation, reported once, at the line that
/// raised it.
fn judge(
    clock: &Clock,
    current: Option<usize>,
    pending: &mut Option<Pending>,
    invariant: Invariant,
    message: &str,
    out: &mut Vec<Violation>,
) {
    if let Some(p) = *pending {
        if clock.advanced && current != clock.index && clock.now >= p.deadline {
            out.push(violation(invariant, p.line, message.to_owned()));
            *pending = None;
        }
    }
}

/// `presence_connect_timeout` plus the largest presence backoff (spec.md §7).
const PRESENCE_BOUND_MS: u64 = 40_000;
/// `background_suspend`.
const SUSPEND_BOUND_MS: u64 = 60_000;
/// The `reason` of an `EventPresenceConnectFail` that says presence is not configured for
/// the group (spec.md §10.4, LIVE-PRESENCE).
const NOT_CONFIGURED: &str = "not_configured";

/// Whether presence is up as the transcript shows it: `EventPresenceConnected` or
/// `EventPresenceBlur` (another instance holds it: the visitor is online), and since then no
/// `EventPresenceDisconnected`, no `EventConnectionWarning` (the connection went with the link,
/// S-N01) and no `send presence_disconnect` (a suspension, S-T07, has no event).
/// `Some(true)` / `Some(false)` when `seen` moves it, `None` when it says nothing about it.
fn presence_moves(seen: &Seen<'_>) -> Option<bool> {
    match seen {
        Seen::Event { code, .. } => match *code {
            "EventPresenceConnected" | "EventPresenceBlur" => Some(true),
            "EventPresenceDisconnected" | "EventConnectionWarning" => Some(false),
            _ => None,
        },
        _ if seen.sent_type() == Some("presence_disconnect") => Some(false),
        _ => None,
    }
}

/// Keeps `pending` equal to "an obligation exists": raised at `line` with a deadline `bound`
/// from now when `owed` starts to hold, dropped as soon as it stops.
fn owe(pending: &mut Option<Pending>, owed: bool, now: u64, bound: u64, line: usize) {
    match (owed, pending.is_some()) {
        (true, false) => {
            *pending = Some(Pending {
                line,
                deadline: now.saturating_add(bound),
            })
        }
        (false, true) => *pending = None,
        _ => {}
    }
}

/// `LIVE-PRESENCE`: with a visitor id (on the latest accepted `init_visitor`, and no `exit`
/// since), presence wanted (a `user login` step the trace did not refuse, no `logout` or
/// `exit` since, no `relaunch` since that brought the app back new — one before the process's
/// first `EventVisitorInitialized`, §13.2 —, and no direct `api` step anywhere before: an app that calls the SDK itself
/// may keep presence off, also by a call made before the login, such as an `init_visitor`
/// with another group id that makes the login's own refused), the link up and the app in front (per the `network`
/// and `lifecycle` steps) and presence configured for the group (no `EventPresenceNotConfigured`,
/// nor, in a trace from before that event, `EventPresenceConnectFail` with reason
/// `not_configured`, since that init), presence is up within
/// `presence_connect_timeout` + the largest backoff (40 s) of the last of those conditions
/// beginning, or of presence going down while they hold.
#[derive(Clone, Debug)]
pub(super) struct PresenceConnects {
    clock: Clock,
    visitor_id: bool,
    wanted: bool,
    /// A direct `api` step came: the controller's view of the SDK may be wrong from then on,
    /// so presence is never owed again in this trace.
    misused: bool,
    /// The `login` step being read, and `wanted` before it (restored if the trace refuses
    /// the step).
    login: Option<(usize, bool)>,
    link_up: bool,
    foreground: bool,
    configured: bool,
    /// The service's presence is up (the config line's `presence_unavailable`, §13.1).
    available: bool,
    up: bool,
    /// The current process has an `EventVisitorInitialized` (its own, or its restored
    /// core's) and no `exit` since: a `relaunch` restores it; else the app comes back new
    /// and unlaunched (§13.2), and nothing of the old process is wanted any more.
    restorable: bool,
    pending: Option<Pending>,
}

impl Default for PresenceConnects {
    fn default() -> Self {
        PresenceConnects {
            clock: Clock::default(),
            visitor_id: false,
            wanted: false,
            misused: false,
            login: None,
            link_up: true,
            foreground: true,
            configured: true,
            available: true,
            up: false,
            restorable: false,
            pending: None,
        }
    }
}

impl PresenceConnects {
    fn update(&mut self, line: usize) {
        let owed = self.visitor_id
            && self.wanted
            && self.link_up
            && self.foreground
            && self.configured
            && self.available
            && !self.up;
        owe(
            &mut self.pending,
            owed,
            self.clock.now,
            PRESENCE_BOUND_MS,
            line,
        );
    }
}

impl Check for PresenceConnects {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
        self.login = None;
        match step {
            Step::User(UserIntent::Login { .. }) => {
                self.login = Some((index, self.wanted));
                self.wanted = !self.misused;
            }
            // the host terminates the SDK on exit: a later launch starts from nothing
            Step::User(UserIntent::Exit) => {
                self.wanted = false;
                self.visitor_id = false;
                self.restorable = false;
            }
            Step::User(UserIntent::Logout) => self.wanted = false,
            Step::Api(_) => {
                self.wanted = false;
                self.misused = true;
            }
            Step::Network(n) => self.link_up = *n == NetworkChange::Restored,
            Step::Lifecycle(l) => self.foreground = *l == Lifecycle::Foreground,
            // a new process in front, presence not kept (§5.6): owed anew from here, and the
            // group is asked again
            Step::Relaunch { .. } => {
                self.foreground = true;
                self.up = false;
                self.configured = true;
                self.pending = None;
                // without snapshots (before the process's first EventVisitorInitialized) the
                // app comes back new and unlaunched: no visitor id, no login (§13.2)
                if !self.restorable {
                    self.wanted = false;
                    self.visitor_id = false;
                }
            }
            // §13.1: the service's presence is down; nothing the SDK does can connect it
            Step::Config(c) if c.presence_unavailable => self.available = false,
            _ => {}
        }
        self.update(line);
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        match rec.seen {
            Seen::StepRefused => {
                if let Some((step, wanted)) = self.login.take() {
                    if step == rec.step {
                        self.wanted = wanted;
                    }
                }
            }
            Seen::Accepted(ApiCall::InitVisitor(p)) => {
                self.visitor_id = p.visitor_id.is_some();
                self.configured = true;
            }
            Seen::Event {
                code: "EventPresenceConnectFail",
                event,
                ..
            } if event.prop("reason").as_deref() == Some(NOT_CONFIGURED) => self.configured = false,
            // the service's own answer (S-F27): not configured until a re-init looks again
            Seen::Event {
                code: "EventPresenceNotConfigured",
                ..
            } => self.configured = false,
            Seen::Event {
                code: "EventVisitorInitialized",
                ..
            } => self.restorable = true,
            _ => {}
        }
        if let Some(up) = presence_moves(&rec.seen) {
            self.up = up;
        }
        self.update(rec.line);
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.pending,
            Invariant::PresenceConnects,
            "logged in with a visitor id, online and in front, but presence was not connected within presence_connect_timeout + the largest backoff (40 s)",
            out,
        );
    }
}

/// `LIVE-GUEST-COUNT`: at the end of every step in which the session runs (between its
/// `EventConnectedToSession` and its end), the link is up (no `EventConnectionWarning` left
/// uncleared) and no `end_session` is in flight, the app's last `EventGuestCountChange` of
/// the session (0 before any) equals the service's agent count: the `agent join` steps less
/// the `agent leave` steps the trace did not refuse while the app's session ran (an agent who
/// joins while the visitor is offline counts; one who joins while the app has no running
/// session joins none the app will have: the service drops a session whose visitor stayed
/// away past the grace, and a start made offline starts a new one).
#[derive(Clone, Debug, Default)]
pub(super) struct GuestCountAgrees {
    /// The step being read: its index, its line, and for an agent step the service's count
    /// before it (restored if the trace refuses the step).
    open: Option<(usize, usize, Option<u64>)>,
    /// The service's count.
    service: u64,
    /// The app's count.
    told: u64,
    running: bool,
    ending: bool,
    offline: bool,
    /// A disagreement was reported and has not been resolved since.
    reported: bool,
}

impl Check for GuestCountAgrees {
    fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        if !ctx.has_scenario() {
            return;
        }
        if self.running && ctx.session() == SessionPhase::Ending {
            self.ending = true;
        }
        let before = matches!(step, Step::Agent(_)).then_some(self.service);
        self.open = Some((index, line, before));
        if !self.running {
            // no session the app has: the agent acts on none, or on one the service drops
            return;
        }
        match step {
            Step::Agent(AgentAction::Join) => self.service = self.service.saturating_add(1),
            Step::Agent(AgentAction::Leave) => self.service = self.service.saturating_sub(1),
            Step::Agent(AgentAction::EndSession) => self.service = 0,
            _ => {}
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        // the app's session is gone without an event (a relaunch that dropped it, §13.2):
        // the service drops it too once the visitor stays away past the grace
        if self.running && ctx.session() == SessionPhase::Idle {
            self.running = false;
            self.ending = false;
            self.service = 0;
            self.told = 0;
            // a refusal later in this step must not bring back the count of the session
            // that is gone (the agent acted on none)
            if let Some((step, line, Some(_))) = self.open {
                self.open = Some((step, line, None));
            }
        }
        // a running session the relaunch keeps as ending (started without `persist`, §5.6,
        // S-R04): its end is on its way, the count is no longer judged
        if self.running && ctx.session() == SessionPhase::Ending {
            self.ending = true;
        }
        match rec.seen {
            Seen::StepRefused => {
                // the agent's action was refused: the count is as it was
                if let Some((step, line, Some(before))) = self.open {
                    if step == rec.step {
                        self.service = before;
                        self.open = Some((step, line, None));
                    }
                }
            }
            Seen::Accepted(ApiCall::EndSession) if self.running => self.ending = true,
            Seen::Event { code, event, .. } => match code {
                "EventConnectedToSession" => {
                    self.running = true;
                    self.ending = false;
                    self.told = 0;
                }
                "EventSessionEnded" | "EventStartSessionFailed" => {
                    self.running = false;
                    self.ending = false;
                    self.service = 0;
                    self.told = 0;
                }
                "EventGuestCountChange" => {
                    if let Some(n) = event.prop("guestcount").and_then(|g| g.parse().ok()) {
                        self.told = n;
                    }
                }
                "EventConnectionWarning" => self.offline = true,
                "EventClearWarning" => self.offline = false,
                _ => {}
            },
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        let Some((step, line, _)) = self.open else {
            return;
        };
        if current == Some(step) {
            return;
        }
        self.open = None;
        let judged = self.running && !self.ending && !self.offline;
        if !judged || self.told == self.service {
            self.reported = false;
            return;
        }
        if !self.reported {
            self.reported = true;
            out.push(violation(
                Invariant::GuestCountAgrees,
                line,
                format!(
                    "after this step the app was told {} agent(s), the session has {}",
                    self.told, self.service
                ),
            ));
        }
    }
}

/// `LIVE-BACKGROUND-SUSPEND`: in the background (per the `lifecycle` steps) with presence up
/// and no terms dialog the customer can see (`displayed` or `accepted` signalled and not yet
/// ended by `declined`, the start of a session, a new request or presence going down),
/// presence goes down within `background_suspend` (60 s) of the last of those beginning.
#[derive(Clone, Debug, Default)]
pub(super) struct BackgroundSuspends {
    clock: Clock,
    background: bool,
    up: bool,
    dialog: bool,
    /// `accepted` signalled: the next accepted `start_session` ends the dialog (S-A20).
    consent: bool,
    pending: Option<Pending>,
}

impl BackgroundSuspends {
    fn update(&mut self, line: usize) {
        let owed = self.background && self.up && !self.dialog;
        owe(
            &mut self.pending,
            owed,
            self.clock.now,
            SUSPEND_BOUND_MS,
            line,
        );
    }
}

impl Check for BackgroundSuspends {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
        if let Step::Lifecycle(l) = step {
            self.background = *l == Lifecycle::Background;
        }
        // a new process in front, presence and any dialog gone (§5.6, §6.1)
        if let Step::Relaunch { .. } = step {
            self.background = false;
            self.up = false;
            self.dialog = false;
            self.consent = false;
            self.pending = None;
        }
        self.update(line);
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        match rec.seen {
            Seen::Accepted(ApiCall::PresenceSignalAgent { event, map }) if event == TERMS_EVENT => {
                match map.get("status").and_then(|s| TermsStatus::parse(s)) {
                    Some(TermsStatus::Displayed) => self.dialog = true,
                    Some(TermsStatus::Accepted) => self.consent = true,
                    Some(TermsStatus::Declined) => {
                        self.dialog = false;
                        self.consent = false;
                    }
                    None => {}
                }
            }
            Seen::Accepted(ApiCall::StartSession(_)) if self.consent => {
                self.dialog = false;
                self.consent = false;
            }
            Seen::Event {
                code: "EventPresenceShowTerms",
                ..
            } => {
                self.dialog = false;
                self.consent = false;
            }
            _ => {}
        }
        if let Some(up) = presence_moves(&rec.seen) {
            self.up = up;
            if !up {
                self.dialog = false;
                self.consent = false;
            }
        }
        self.update(rec.line);
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.pending,
            Invariant::BackgroundSuspends,
            "in the background with presence up and no terms dialog on screen, presence was not suspended within background_suspend (60 s)",
            out,
        );
    }
}
