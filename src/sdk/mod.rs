//! The SDK core: the visitor SDK's protocol engine as a sans-IO state machine.
//!
//! One value, [`Sdk`], driven by [`Sdk::handle_input`] and drained by [`Sdk::poll_output`]
//! until [`Output::Timeout`]. The handlers below follow spec.md's SDK transition table (§5)
//! block by block, in the same order; each names the row it follows with `cx.row(Row::…)`,
//! which [`Sdk::last_rows`] reports. The §4 state types are in `state`, the timer
//! durations in `config`, the output queue in `queue`.

mod config;
mod queue;
mod snapshot;
mod state;

pub use config::{ConsentPolicy, SdkConfig};
pub use snapshot::{RestoreError, SessionSnapshot, Snapshot, RESTART_EXPIRED, SNAPSHOT_FORMAT};
pub use state::{
    AppVisibility, KeyRequest, Link, Lookup, Phase, PhaseKind, Presence, PresenceKind, Ready,
    Session, SessionKind, Settings, State, StateKind, Terms,
};

use crate::api::{
    validate_max_attempts, validate_presence_data, validate_session_key, validate_signal,
    validate_user_message, validate_user_state, ApiCall, InitParams, StartKey, StartOptions,
    StartParams, TermsStatus,
};
use crate::errors::{ApiError, Error, ProtocolError};
use crate::events::Event;
use crate::frames::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use crate::rows::{Row, Rows};
use crate::time::Instant;
use crate::timers::{backoff, Timer, Timers};
use config::Config;
use queue::{Queued, QUEUE_CAPACITY};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// One input to the SDK core.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Input {
    /// The app called the API.
    Api(ApiCall),
    /// A frame arrived from the server (decode bytes with [`ServerFrame::decode`], or use
    /// [`Sdk::handle_bytes`]).
    Frame(ServerFrame),
    /// The app's lifecycle changed.
    Lifecycle(Lifecycle),
    /// The transport to the service went down or came back.
    Network(NetworkChange),
    /// Time passed: fire every timer due at `now`.
    Timeout,
}

/// App lifecycle changes the platform reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Lifecycle {
    /// The app left the foreground.
    Background,
    /// The app returned to the foreground.
    Foreground,
    /// The app is exiting: end everything, take no more calls.
    Terminate,
}

/// Transport changes the IO layer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum NetworkChange {
    /// The transport is gone (socket closed, no connectivity).
    Lost,
    /// A transport is up again (the IO layer reconnected).
    Restored,
}

/// One output of the SDK core. [`Output::Timeout`] ends a drain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// Deliver this event to the app.
    Event(Event),
    /// Send this frame to the server.
    Transmit(ClientFrame),
    /// Open a new transport to the service now; report [`NetworkChange::Restored`] when it
    /// is up. Nothing to do if one is already being opened.
    Connect,
    /// Nothing more for now; call [`Sdk::handle_input`] with [`Input::Timeout`] at this
    /// instant, or never when `None`.
    Timeout(Option<Instant>),
}

/// The SDK core. See the crate docs for the drive loop.
#[derive(Clone, Debug)]
pub struct Sdk {
    config: Config,
    state: State,
    out: VecDeque<Queued>,
    rows: Rows,
}

impl Default for Sdk {
    fn default() -> Self {
        Sdk::new(SdkConfig::default())
    }
}

/// What an input handler may touch besides the phase: the output queue, the timer table and
/// the link (read-only). Split out so that the handlers can hold `&mut Ready` at the same
/// time.
struct Ctx<'a> {
    now: Instant,
    link: Link,
    app: AppVisibility,
    cfg: &'a SdkConfig,
    default_ui: &'a mut bool,
    presence_default_ui: &'a mut bool,
    timers: &'a mut Timers,
    out: &'a mut VecDeque<Queued>,
    rows: &'a mut Rows,
}

impl Ctx<'_> {
    /// Names the spec row being followed.
    fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Names the refusing row and returns its error; the state is untouched.
    fn refuse(&mut self, row: Row, e: ApiError) -> Result<(), ApiError> {
        self.rows.push(row);
        Err(e)
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Queued::Event(e));
    }

    /// Frames are sent only while the link is up (INV-NO-SEND-OFFLINE); what must survive an
    /// outage is sent again from the state on `Restored`.
    fn send(&mut self, f: ClientFrame) {
        if self.link == Link::Up {
            self.out.push_back(Queued::transmit(f));
        }
    }

    fn arm(&mut self, t: Timer, after: Duration) {
        self.timers.arm(t, self.now.saturating_add(after));
    }

    fn disarm(&mut self, t: Timer) {
        self.timers.disarm(t);
    }

    fn disarm_presence(&mut self) {
        self.disarm(Timer::PresenceConnect);
        self.disarm(Timer::PresenceRetry);
        self.disarm(Timer::PresenceSuspend);
    }

    /// Presence wants a connection: connect now, or when the link is back.
    fn presence_connect(&mut self, visitor: &InitParams, attempt: u32) -> Presence {
        match (self.link, &visitor.visitor_id) {
            (Link::Up, Some(id)) => {
                self.send(ClientFrame::PresenceConnect {
                    visitor_id: id.clone(),
                });
                self.arm(Timer::PresenceConnect, self.cfg.presence_connect_timeout);
                Presence::Connecting { attempt }
            }
            (Link::Down { .. }, Some(_)) => Presence::AwaitingLink,
            (_, None) => Presence::Off,
        }
    }

    /// A connect attempt failed: retry after the backoff, or, when it was the last of
    /// `max_attempts`, give up (S-F21b, S-T06c).
    fn presence_retry(&mut self, attempt: u32, max: Option<u32>, reason: String) -> Presence {
        if last_attempt(attempt, max) {
            self.emit(Event::PresenceConnectFail {
                reason,
                retry_ms: None,
            });
            return Presence::Off;
        }
        let delay = backoff(
            self.cfg.presence_backoff_base,
            self.cfg.presence_backoff_max,
            attempt,
        );
        self.arm(Timer::PresenceRetry, delay);
        self.emit(Event::PresenceConnectFail {
            reason,
            retry_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
        });
        Presence::RetryWait {
            attempt: attempt.saturating_add(1),
        }
    }
}

fn init_frame(p: &InitParams) -> ClientFrame {
    ClientFrame::Init {
        v: PROTOCOL_VERSION,
        group_id: p.group_id,
        token: p.token.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        visitor_id: p.visitor_id.clone(),
    }
}

/// Drops a handled frame. The frames without strings or maps own nothing: they are forgotten
/// instead of going through the enum's drop glue, an out-of-line call on every string-free
/// input (BENCHMARKS.md, issue 13 round 3).
#[inline(always)]
fn drop_frame(frame: ServerFrame) {
    match frame {
        f @ (ServerFrame::Settings { .. }
        | ServerFrame::GuestCount { .. }
        | ServerFrame::PresenceConnected {}
        | ServerFrame::PresenceShowTerms { .. }
        | ServerFrame::PresenceBlur {}
        | ServerFrame::PresenceStartSession { .. }
        | ServerFrame::PresenceNotConfigured {}) => std::mem::forget(f),
        f => drop(f),
    }
}

fn unexpected(frame: &ServerFrame, state: StateKind) -> ProtocolError {
    ProtocolError::UnexpectedFrame {
        frame: frame.kind(),
        state,
    }
}

impl Sdk {
    /// A new core, uninitialised, link up, app in the foreground, default UI on, at time zero.
    pub fn new(config: SdkConfig) -> Self {
        Sdk {
            config: Config::new(config.sanitized()),
            state: State {
                phase: Phase::Uninitialized,
                link: Link::Up,
                app: AppVisibility::Foreground,
                default_ui: true,
                presence_default_ui: true,
                timers: Timers::default(),
                now: Instant::ZERO,
            },
            out: VecDeque::with_capacity(QUEUE_CAPACITY),
            rows: Rows::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// The machine's whole state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// `isSessionActive` (Android `isInSession`): a session is starting, running or ending.
    pub fn is_session_active(&self) -> bool {
        self.ready()
            .is_some_and(|r| !matches!(r.session, Session::Idle))
    }

    /// The running session's key, agents and paused flag (`GlanceSessionInfo`'s `key`,
    /// `nGuests`, `isPaused`); `None` unless a session is running.
    pub fn session_info(&self) -> Option<(&str, u32, bool)> {
        match &self.ready()?.session {
            Session::Running {
                key,
                guests,
                paused,
                ..
            } => Some((key.as_str(), *guests, *paused)),
            _ => None,
        }
    }

    /// Whether the running session is paused (`GlanceSessionInfo.isPaused`).
    pub fn is_paused(&self) -> bool {
        self.session_info().is_some_and(|(_, _, paused)| paused)
    }

    /// Whether an agent is in the running session (Cobrowse.io `hasAgent`).
    pub fn has_agent(&self) -> bool {
        self.session_info().is_some_and(|(_, guests, _)| guests > 0)
    }

    /// Android `isPresenceConnected`: presence is `connected`.
    pub fn is_presence_connected(&self) -> bool {
        self.ready()
            .is_some_and(|r| matches!(r.presence, Presence::Connected { .. }))
    }

    /// Android `arePresenceTermsDisplayed`: a one-click request's terms are `displayed`
    /// (signalled, not yet answered).
    pub fn are_terms_displayed(&self) -> bool {
        self.ready().is_some_and(|r| {
            matches!(
                r.presence,
                Presence::Connected {
                    terms: Terms::Displayed { .. }
                }
            )
        })
    }

    fn ready(&self) -> Option<&Ready> {
        match &self.state.phase {
            Phase::Ready(r) => Some(r),
            _ => None,
        }
    }

    /// The spec rows (§5) the last `handle_input` went through.
    pub fn last_rows(&self) -> &[Row] {
        self.rows.as_slice()
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.timers.next()
    }

    /// The next output; [`Output::Timeout`] when the queue is empty.
    pub fn poll_output(&mut self) -> Output {
        match self.out.pop_front() {
            Some(q) => q.into_output(),
            None => Output::Timeout(self.poll_timeout()),
        }
    }

    /// Decodes a server frame and handles it; undecodable bytes are refused like an
    /// out-of-state frame.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        let frame = ServerFrame::decode(bytes).map_err(ProtocolError::from)?;
        self.handle_input(now, Input::Frame(frame))
    }

    /// Handles one input at `now`. After it, drain [`Sdk::poll_output`] until
    /// [`Output::Timeout`] (the single-mutation rule, spec.md §2).
    ///
    /// Every timer due at `now` fires first, before the input itself (its rows come first in
    /// [`Sdk::last_rows`], its outputs first in the queue), so feeding [`Input::Timeout`] at
    /// each deadline is how the core is woken, not a condition of its correctness.
    ///
    /// A refused input returns the error and leaves [`Sdk::state`] as the due timers left it
    /// (as it was, when none was due); a refused API call also queues
    /// `EventInvalidParameter` or `EventInvalidState`, as the Glance SDK reports it.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), Error> {
        self.rows.clear();
        if now < self.state.now {
            return Err(Error::TimeWentBackwards {
                last: self.state.now,
                now,
            });
        }
        // Every timer due at `now` fires first, whatever the input (spec.md §2): an input
        // that comes after a deadline is handled after that deadline's transition, so no
        // IO loop can get the order wrong. The time is accepted even if the input is then
        // refused.
        if self.state.timers.any_due(now) {
            self.on_timeout(now);
            self.state.now = now;
        }
        let result = match input {
            Input::Api(call) => {
                let name = call.name();
                self.on_api(now, call).map_err(|e| {
                    let code = e.code();
                    self.out.push_back(Queued::Event(if e.is_parameter_error() {
                        Event::InvalidParameter { call: name, code }
                    } else if let ApiError::PresenceSendFail(_) = e {
                        Event::PresenceSendFail { call: name, code }
                    } else {
                        Event::InvalidState { call: name, code }
                    }));
                    Error::Api(e)
                })
            }
            Input::Frame(frame) => {
                let result = self.on_frame(now, &frame).map_err(Error::Protocol);
                drop_frame(frame);
                result
            }
            Input::Lifecycle(l) => {
                self.on_lifecycle(now, l);
                Ok(())
            }
            Input::Network(n) => {
                self.on_network(now, n);
                Ok(())
            }
            // the due timers fired above
            Input::Timeout => Ok(()),
        };
        if result.is_ok() {
            self.state.now = now;
        }
        result
    }

    fn ctx(&mut self, now: Instant) -> (&mut Phase, Ctx<'_>) {
        let State {
            phase,
            link,
            app,
            default_ui,
            presence_default_ui,
            timers,
            ..
        } = &mut self.state;
        (
            phase,
            Ctx {
                now,
                link: *link,
                app: *app,
                cfg: &self.config,
                default_ui,
                presence_default_ui,
                timers,
                out: &mut self.out,
                rows: &mut self.rows,
            },
        )
    }

    // ---- API calls: spec.md §5.1 ------------------------------------------------------

    /// One arm per block of §5.1, in the table's order: the phase guards (S-A90, S-A91,
    /// S-A92) are arms of this match, so a handler below them holds the `Ready` state it
    /// needs.
    fn on_api(&mut self, now: Instant, call: ApiCall) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        match (call, phase) {
            (_, Phase::Terminated) => cx.refuse(Row::SA90, ApiError::Terminated),
            (ApiCall::InitVisitor(p), phase) => api_init(phase, &mut cx, p),
            (_, Phase::Uninitialized) => cx.refuse(Row::SA91, ApiError::NotInitialized),
            (ApiCall::SetDefaultUi { enabled }, _) => {
                cx.row(Row::SA10);
                *cx.default_ui = enabled;
                Ok(())
            }
            (ApiCall::PresenceSetDefaultUi { enabled }, _) => {
                cx.row(Row::SA11);
                *cx.presence_default_ui = enabled;
                Ok(())
            }
            (_, Phase::Initializing { .. }) => cx.refuse(Row::SA92, ApiError::InitPending),
            (ApiCall::StartSession(params), Phase::Ready(r)) => api_start(r, &mut cx, params),
            (ApiCall::EndSession, Phase::Ready(r)) => api_end(r, &mut cx),
            (ApiCall::PresenceConnect { max_attempts }, Phase::Ready(r)) => {
                api_presence_connect(r, &mut cx, max_attempts)
            }
            (ApiCall::PresenceSignalAgent { event, map }, Phase::Ready(r)) => {
                api_signal(r, &mut cx, event, map)
            }
            (ApiCall::PresenceDisconnect, Phase::Ready(r)) => api_presence_disconnect(r, &mut cx),
            (ApiCall::PresenceSignalVisibility { visible }, Phase::Ready(r)) => {
                api_visibility(r, &mut cx, visible)
            }
            (ApiCall::PresenceData { map }, Phase::Ready(r)) => api_presence_data(r, &mut cx, map),
            (ApiCall::Pause { paused }, Phase::Ready(r)) => api_pause(r, &mut cx, paused),
            (ApiCall::SendUserMessage { name, map }, Phase::Ready(r)) => {
                api_user_message(r, &mut cx, name, map)
            }
            (ApiCall::SetUserState { name, value }, Phase::Ready(r)) => {
                api_user_state(r, &mut cx, name, value)
            }
        }
    }

    // ---- Server frames: spec.md §5.2 --------------------------------------------------

    fn on_frame(&mut self, now: Instant, frame: &ServerFrame) -> Result<(), ProtocolError> {
        let default_len = self.config.default_key_length;
        let agent_may_start = self.config.consent_policy == ConsentPolicy::AgentMayStart;
        let (phase, mut cx) = self.ctx(now);
        if let Err(e) = frame.validate() {
            cx.row(Row::SF98);
            return Err(e.into());
        }
        let phase_kind = phase.kind();
        let r = match (phase, &frame) {
            (
                phase @ Phase::Initializing { .. },
                ServerFrame::Settings { .. } | ServerFrame::InitFailed { .. },
            ) => {
                let settings = match &frame {
                    ServerFrame::Settings {
                        key_length,
                        agent_start,
                        ..
                    } => {
                        cx.row(Row::SF01);
                        Settings {
                            key_length: *key_length,
                            loaded: true,
                            agent_start: *agent_start,
                        }
                    }
                    _ => {
                        cx.row(Row::SF02);
                        Settings::defaults(default_len)
                    }
                };
                complete_first_init(phase, settings, &mut cx);
                return Ok(());
            }
            (Phase::Ready(r), _) => r,
            (_, f) => {
                cx.row(Row::SF99);
                return Err(unexpected(f, StateKind::Phase(phase_kind)));
            }
        };
        match (&frame, &r.session, &r.presence) {
            (
                ServerFrame::Settings {
                    key_length,
                    agent_start,
                    ..
                },
                _,
                _,
            ) if r.lookup == Lookup::Pending => {
                cx.row(Row::SF03);
                r.settings = Settings {
                    key_length: *key_length,
                    loaded: true,
                    agent_start: *agent_start,
                };
                r.lookup = Lookup::Done;
                cx.disarm(Timer::InitLookup);
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: true,
                });
            }
            (ServerFrame::InitFailed { .. }, _, _) if r.lookup == Lookup::Pending => {
                cx.row(Row::SF04); // keep the settings we had
                r.lookup = Lookup::Done;
                cx.disarm(Timer::InitLookup);
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (
                ServerFrame::Settings {
                    key_length,
                    agent_start,
                    ..
                },
                _,
                _,
            ) if r.lookup == Lookup::Reattaching => {
                cx.row(Row::SF05); // the app was told already: no second event
                r.settings = Settings {
                    key_length: *key_length,
                    loaded: true,
                    agent_start: *agent_start,
                };
                r.lookup = Lookup::Done;
            }
            (ServerFrame::InitFailed { .. }, _, _) if r.lookup == Lookup::Reattaching => {
                cx.row(Row::SF06); // keep the settings we had
                r.lookup = Lookup::Done;
            }
            (
                ServerFrame::SessionStarted { sessionkey },
                Session::Starting { request, options },
                _,
            ) => {
                match request {
                    KeyRequest::Random => {
                        if !sessionkey.bytes().all(|b| b.is_ascii_digit()) {
                            cx.row(Row::SF16);
                            return Err(ProtocolError::KeyNotNumeric);
                        }
                    }
                    KeyRequest::VisitorId(k) | KeyRequest::Custom(k) => {
                        if k != sessionkey {
                            cx.row(Row::SF15);
                            return Err(ProtocolError::KeyMismatch);
                        }
                    }
                }
                cx.row(Row::SF10); // after S-F16 / S-F15: a refused key is not S-F10
                let keytype = request.keytype();
                cx.disarm(Timer::SessionStart);
                r.session = Session::Running {
                    key: sessionkey.clone(),
                    keytype,
                    guests: 0,
                    paused: options.paused, // as the start asked the service (S-A20)
                    user_state: BTreeMap::new(),
                    persist: options.persist,
                };
                cx.emit(Event::ConnectedToSession {
                    sessionkey: sessionkey.clone(),
                    keytype,
                });
            }
            (ServerFrame::SessionRefused { reason }, Session::Starting { .. }, _) => {
                cx.row(Row::SF11);
                cx.disarm(Timer::SessionStart);
                r.session = Session::Idle;
                cx.emit(Event::StartSessionFailed {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::GuestCount { guestcount }, Session::Running { .. }, _) => {
                cx.row(Row::SF12);
                if let Session::Running { guests, .. } = &mut r.session {
                    *guests = *guestcount;
                }
                cx.emit(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (ServerFrame::UserMessage { name, map }, Session::Running { .. }, _) => {
                cx.row(Row::SF30);
                cx.emit(Event::MessageReceived {
                    name: name.clone(),
                    map: map.clone(),
                });
            }
            (ServerFrame::GuestCount { guestcount }, Session::Ending { .. }, _) => {
                cx.row(Row::SF13); // agents leaving while we end
                cx.emit(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (
                ServerFrame::SessionEnded { reason },
                Session::Running { .. } | Session::Ending { .. },
                _,
            ) => {
                cx.row(Row::SF14);
                cx.disarm(Timer::SessionEnd);
                cx.disarm(Timer::SessionGrace);
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::PresenceConnected {}, _, Presence::Connecting { .. }) => {
                cx.row(Row::SF20);
                cx.disarm(Timer::PresenceConnect);
                if cx.app == AppVisibility::Background {
                    cx.arm(Timer::PresenceSuspend, cx.cfg.background_suspend);
                }
                r.presence = Presence::Connected { terms: Terms::None };
                // the service learns the visitor's data on every connection (INV-PRESENCE-DATA)
                if !r.presence_data.is_empty() {
                    cx.send(ClientFrame::PresenceData {
                        map: r.presence_data.clone(),
                    });
                }
                cx.emit(Event::PresenceConnected);
            }
            (
                ServerFrame::PresenceConnectFailed { reason },
                _,
                Presence::Connecting { attempt },
            ) => {
                let attempt = *attempt;
                cx.row(if last_attempt(attempt, r.max_attempts) {
                    Row::SF21b
                } else {
                    Row::SF21
                });
                cx.disarm(Timer::PresenceConnect);
                r.presence = cx.presence_retry(attempt, r.max_attempts, reason.clone());
            }
            (ServerFrame::PresenceNotConfigured {}, _, Presence::Connecting { .. }) => {
                cx.row(Row::SF27); // not retried: only a re-init looks again (S-A04, S-A46)
                cx.disarm(Timer::PresenceConnect);
                r.presence = Presence::NotConfigured;
                cx.emit(Event::PresenceNotConfigured);
            }
            (ServerFrame::PresenceSignal { event, map }, _, Presence::Connected { .. }) => {
                cx.row(Row::SF24);
                cx.emit(Event::PresenceSignal {
                    event: event.clone(),
                    map: map.clone(),
                });
            }
            (ServerFrame::PresenceStartSession { request_id }, _, Presence::Connected { .. }) => {
                // consent without the dialog needs both the app's policy and the group's
                // settings (INV-CONSENT); otherwise the customer is asked, as for S-F22
                let request_id = *request_id;
                if agent_may_start && r.settings.agent_start {
                    cx.row(Row::SF25);
                    r.presence = Presence::Connected {
                        terms: Terms::AgentStart { request_id },
                    };
                    cx.emit(Event::PresenceStartSession { request_id });
                } else {
                    cx.row(Row::SF26);
                    r.presence = Presence::Connected {
                        terms: Terms::Shown { request_id },
                    };
                    cx.emit(Event::PresenceShowTerms { request_id });
                }
            }
            (ServerFrame::PresenceShowTerms { request_id }, _, Presence::Connected { .. }) => {
                cx.row(Row::SF22); // a new request replaces any earlier one
                r.presence = Presence::Connected {
                    terms: Terms::Shown {
                        request_id: *request_id,
                    },
                };
                cx.emit(Event::PresenceShowTerms {
                    request_id: *request_id,
                });
            }
            (ServerFrame::PresenceBlur {}, _, Presence::Connected { .. }) => {
                cx.row(Row::SF23);
                r.presence = Presence::Blurred;
                cx.emit(Event::PresenceBlur);
            }
            (f, session, presence) => {
                cx.row(Row::SF99);
                let state = match f {
                    ServerFrame::Settings { .. } | ServerFrame::InitFailed { .. } => {
                        StateKind::Phase(PhaseKind::Ready)
                    }
                    ServerFrame::SessionStarted { .. }
                    | ServerFrame::SessionRefused { .. }
                    | ServerFrame::GuestCount { .. }
                    | ServerFrame::SessionEnded { .. }
                    | ServerFrame::UserMessage { .. } => StateKind::Session(session.kind()),
                    _ => StateKind::Presence(presence.kind()),
                };
                return Err(unexpected(f, state));
            }
        }
        Ok(())
    }

    // ---- Lifecycle: spec.md §5.3 ------------------------------------------------------

    fn on_lifecycle(&mut self, now: Instant, l: Lifecycle) {
        match l {
            Lifecycle::Background => {
                if self.state.app == AppVisibility::Background {
                    self.rows.push(Row::SL03);
                    return;
                }
                self.state.app = AppVisibility::Background;
                let (phase, mut cx) = self.ctx(now);
                cx.row(Row::SL01);
                if let Phase::Ready(r) = phase {
                    let presence_on =
                        matches!(r.presence, Presence::Connected { .. } | Presence::Blurred);
                    if presence_on {
                        cx.arm(Timer::PresenceSuspend, cx.cfg.background_suspend);
                    }
                    if presence_on || r.session != Session::Idle {
                        cx.send(ClientFrame::AppState { foreground: false });
                    }
                }
            }
            Lifecycle::Foreground => {
                if self.state.app == AppVisibility::Foreground {
                    self.rows.push(Row::SL03);
                    return;
                }
                self.state.app = AppVisibility::Foreground;
                let (phase, mut cx) = self.ctx(now);
                cx.disarm(Timer::PresenceSuspend);
                match phase {
                    Phase::Ready(r)
                        if matches!(r.presence, Presence::Suspended | Presence::Blurred) =>
                    {
                        cx.row(Row::SL02b); // resume a suspended presence, reclaim a blurred one
                        r.presence = cx.presence_connect(&r.visitor, 0);
                        if r.session != Session::Idle {
                            cx.send(ClientFrame::AppState { foreground: true });
                        }
                    }
                    Phase::Ready(r) => {
                        cx.row(Row::SL02a);
                        if matches!(r.presence, Presence::Connected { .. })
                            || r.session != Session::Idle
                        {
                            cx.send(ClientFrame::AppState { foreground: true });
                        }
                    }
                    _ => cx.row(Row::SL02a),
                }
            }
            Lifecycle::Terminate => {
                let (phase, mut cx) = self.ctx(now);
                if let Phase::Ready(r) = phase {
                    cx.row(Row::SL04);
                    match r.session {
                        Session::Idle => {}
                        Session::Starting { .. } => {
                            cx.send(ClientFrame::EndSession {});
                            cx.emit(Event::StartSessionFailed {
                                reason: "terminated".into(),
                            });
                        }
                        Session::Running { .. } => {
                            cx.send(ClientFrame::EndSession {});
                            cx.emit(Event::SessionEnded {
                                reason: "terminated".into(),
                            });
                        }
                        Session::Ending { .. } => cx.emit(Event::SessionEnded {
                            reason: "terminated".into(),
                        }),
                    }
                    if !matches!(r.presence, Presence::Off | Presence::NotConfigured) {
                        cx.send(ClientFrame::PresenceDisconnect {});
                        cx.emit(Event::PresenceDisconnected);
                    }
                } else {
                    cx.row(Row::SL05);
                }
                self.state.timers.clear();
                self.state.phase = Phase::Terminated;
            }
        }
    }

    // ---- Network: spec.md §5.4 --------------------------------------------------------

    fn on_network(&mut self, now: Instant, n: NetworkChange) {
        if self.state.phase == Phase::Terminated {
            self.rows.push(Row::SN05);
            return;
        }
        match (n, self.state.link) {
            (NetworkChange::Lost, Link::Down { .. }) | (NetworkChange::Restored, Link::Up) => {
                self.rows.push(Row::SN03);
            }
            (NetworkChange::Lost, Link::Up) => {
                self.rows.push(Row::SN01);
                self.state.link = Link::Down { attempt: 0 };
                let (phase, mut cx) = self.ctx(now);
                cx.arm(
                    Timer::Reconnect,
                    backoff(
                        cx.cfg.reconnect_backoff_base,
                        cx.cfg.reconnect_backoff_max,
                        0,
                    ),
                );
                // a warning for every loss, so that every EventClearWarning has its pair
                cx.emit(Event::ConnectionWarning);
                if let Phase::Ready(r) = phase {
                    if r.session != Session::Idle {
                        cx.arm(Timer::SessionGrace, cx.cfg.session_grace);
                    }
                    // the presence connection, and any terms request on it, is gone
                    if matches!(
                        r.presence,
                        Presence::Connecting { .. }
                            | Presence::RetryWait { .. }
                            | Presence::Connected { .. }
                            | Presence::Blurred
                    ) {
                        cx.disarm_presence();
                        r.presence = Presence::AwaitingLink;
                    }
                }
            }
            (NetworkChange::Restored, Link::Down { .. }) => {
                self.rows.push(Row::SN02);
                self.state.link = Link::Up;
                let (phase, mut cx) = self.ctx(now);
                cx.disarm(Timer::Reconnect);
                cx.disarm(Timer::SessionGrace);
                cx.emit(Event::ClearWarning);
                match phase {
                    Phase::Uninitialized | Phase::Terminated => {}
                    Phase::Initializing { visitor } => cx.send(init_frame(visitor)),
                    Phase::Ready(r) => {
                        // every connection starts with `init`: the service learns (again)
                        // who the visitor is before any session or presence frame
                        cx.send(init_frame(&r.visitor));
                        if r.lookup == Lookup::Done {
                            r.lookup = Lookup::Reattaching;
                        }
                        match &r.session {
                            Session::Idle => {}
                            Session::Starting { request, options } => {
                                cx.send(start_frame(request, options))
                            }
                            Session::Running {
                                key,
                                paused,
                                user_state,
                                ..
                            } => {
                                cx.send(ClientFrame::ResumeSession {
                                    sessionkey: key.clone(),
                                });
                                // what the service must know of the session, after a loss
                                if *paused {
                                    cx.send(ClientFrame::Pause { paused: true });
                                }
                                if !user_state.is_empty() {
                                    cx.send(ClientFrame::UserState {
                                        state: user_state.clone(),
                                    });
                                }
                            }
                            Session::Ending { .. } => {
                                cx.send(ClientFrame::EndSession {});
                                cx.arm(Timer::SessionEnd, cx.cfg.end_timeout);
                            }
                        }
                        if r.presence == Presence::AwaitingLink {
                            r.presence = cx.presence_connect(&r.visitor, 0);
                        }
                        // the service still thinks the app is in front
                        if cx.app == AppVisibility::Background && r.session != Session::Idle {
                            cx.send(ClientFrame::AppState { foreground: false });
                        }
                    }
                }
            }
        }
    }

    // ---- Timers: spec.md §5.5 ---------------------------------------------------------

    fn on_timeout(&mut self, now: Instant) {
        // Each firing may arm others, all strictly later (durations are at least 1 ms), so
        // this loop ends; the bound is a second guarantee.
        for _ in 0..Timer::ALL.len() * 4 {
            let Some(timer) = self.state.timers.due(now) else {
                return;
            };
            self.state.timers.disarm(timer);
            self.fire(now, timer);
        }
    }

    fn fire(&mut self, now: Instant, timer: Timer) {
        let default_len = self.config.default_key_length;
        let link = self.state.link;
        let app = self.state.app;
        if let Timer::Reconnect = timer {
            if let Link::Down { attempt } = link {
                self.rows.push(Row::ST08);
                self.out.push_back(Queued::Connect);
                let next = attempt.saturating_add(1);
                self.state.link = Link::Down { attempt: next };
                let delay = backoff(
                    self.config.reconnect_backoff_base,
                    self.config.reconnect_backoff_max,
                    next,
                );
                self.state
                    .timers
                    .arm(Timer::Reconnect, now.saturating_add(delay));
            }
            return;
        }
        let (phase, mut cx) = self.ctx(now);
        if let (Timer::InitLookup, Phase::Initializing { .. }) = (timer, &*phase) {
            cx.row(Row::ST01);
            let settings = Settings::defaults(default_len);
            complete_first_init(phase, settings, &mut cx);
            return;
        }
        let Phase::Ready(r) = phase else {
            return;
        };
        match (timer, &r.session, &r.presence) {
            (Timer::InitLookup, _, _) if r.lookup == Lookup::Pending => {
                cx.row(Row::ST02);
                r.lookup = Lookup::Done;
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (Timer::SessionStart, Session::Starting { .. }, _) => {
                cx.row(Row::ST03);
                cx.send(ClientFrame::EndSession {});
                cx.disarm(Timer::SessionGrace); // armed if the link is down: goes with the session
                r.session = Session::Idle;
                cx.emit(Event::StartSessionFailed {
                    reason: "timeout".into(),
                });
            }
            // offline, the end_session frame has not gone out: the session lives on at the
            // server, so wait for the link (S-N02 sends it again) or the grace (S-T05b)
            (Timer::SessionEnd, Session::Ending { .. }, _) if link == Link::Up => {
                cx.row(Row::ST04);
                cx.disarm(Timer::SessionGrace); // armed if the link is down: goes with the session
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: "visitor_ended".into(),
                });
            }
            (Timer::SessionEnd, Session::Ending { .. }, _) => {
                // offline: keep ending; S-N02 re-sends end_session, or S-T05b ends it
                cx.row(Row::ST04b);
                // a start and its end both made offline never armed the grace (S-N01 arms it
                // only for a session that was on when the link went): arm it now, so that the
                // session resolves (LIVE-SESSION-RESOLVES)
                if cx.timers.deadline(Timer::SessionGrace).is_none() {
                    cx.arm(Timer::SessionGrace, cx.cfg.session_grace);
                }
            }
            (Timer::SessionGrace, Session::Starting { .. }, _) if link != Link::Up => {
                cx.row(Row::ST05a);
                cx.disarm(Timer::SessionStart);
                r.session = Session::Idle;
                cx.emit(Event::StartSessionFailed {
                    reason: "connection_lost".into(),
                });
            }
            (Timer::SessionGrace, Session::Running { .. } | Session::Ending { .. }, _)
                if link != Link::Up =>
            {
                cx.row(Row::ST05b);
                cx.disarm(Timer::SessionEnd);
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: "connection_lost".into(),
                });
            }
            (Timer::PresenceConnect, _, Presence::Connecting { attempt }) => {
                let attempt = *attempt;
                cx.row(if last_attempt(attempt, r.max_attempts) {
                    Row::ST06c
                } else {
                    Row::ST06a
                });
                r.presence = cx.presence_retry(attempt, r.max_attempts, "timeout".into());
            }
            (Timer::PresenceRetry, _, Presence::RetryWait { attempt }) => {
                cx.row(Row::ST06b);
                let attempt = *attempt;
                r.presence = cx.presence_connect(&r.visitor, attempt);
            }
            // a request the app never displayed goes with the suspension: the customer never
            // saw it
            (
                Timer::PresenceSuspend,
                _,
                Presence::Connected {
                    terms: Terms::None | Terms::Shown { .. } | Terms::AgentStart { .. },
                }
                | Presence::Blurred,
            ) if app == AppVisibility::Background => {
                cx.row(Row::ST07);
                cx.send(ClientFrame::PresenceDisconnect {});
                r.presence = Presence::Suspended;
            }
            // a request on the customer's screen keeps presence up: ask again later
            (
                Timer::PresenceSuspend,
                _,
                Presence::Connected {
                    terms: Terms::Displayed { .. } | Terms::Accepted { .. },
                },
            ) if app == AppVisibility::Background => {
                cx.row(Row::ST07b);
                cx.arm(Timer::PresenceSuspend, cx.cfg.background_suspend);
            }
            // A timer whose state has gone: nothing to do (disarmed with its state, so
            // not reached; kept total so that no input can panic).
            _ => {}
        }
    }
}

fn complete_first_init(phase: &mut Phase, settings: Settings, cx: &mut Ctx<'_>) {
    let Phase::Initializing { visitor } = phase else {
        return;
    };
    let visitor = visitor.clone();
    cx.disarm(Timer::InitLookup);
    *phase = Phase::Ready(Ready {
        visitor,
        settings,
        lookup: Lookup::Done,
        session: Session::Idle,
        presence: Presence::Off,
        max_attempts: None,
        presence_data: BTreeMap::new(),
    });
    cx.emit(Event::VisitorInitialized {
        settings_loaded: settings.loaded,
    });
}

// ---- API call handlers: spec.md §5.1, after the phase guards of `Sdk::on_api` ------------

/// Whether a failed connect attempt (`attempt` failures before it) is the last one allowed.
fn last_attempt(attempt: u32, max: Option<u32>) -> bool {
    max.is_some_and(|max| attempt.saturating_add(1) >= max)
}

fn api_init(phase: &mut Phase, cx: &mut Ctx<'_>, p: InitParams) -> Result<(), ApiError> {
    if let Err(e) = p.validate_for(cx.cfg.limits) {
        return cx.refuse(Row::SA06, e.into());
    }
    let first_group = match phase {
        Phase::Initializing { visitor } => Some(visitor.group_id),
        Phase::Ready(r) => Some(r.visitor.group_id),
        Phase::Uninitialized | Phase::Terminated => None,
    };
    if let Some(expected) = first_group {
        if expected != p.group_id {
            return cx.refuse(
                Row::SA02,
                ApiError::GroupIdMismatch {
                    expected,
                    got: p.group_id,
                },
            );
        }
    }
    if let Phase::Ready(r) = phase {
        if r.visitor.visitor_id != p.visitor_id
            && !matches!(r.presence, Presence::Off | Presence::NotConfigured)
        {
            return cx.refuse(Row::SA05, ApiError::VisitorIdChangeWithPresence);
        }
    }
    cx.send(init_frame(&p));
    cx.arm(Timer::InitLookup, cx.cfg.init_timeout);
    match phase {
        Phase::Uninitialized => {
            cx.row(Row::SA01); // first init
            *phase = Phase::Initializing { visitor: p };
        }
        Phase::Initializing { visitor } => {
            cx.row(Row::SA03); // again before the first completed: the latest wins
            *visitor = p;
        }
        Phase::Ready(r) => {
            cx.row(Row::SA04); // keeps session, presence and settings until the lookup answers
                               // the data is the visitor's; a new lookup may find presence configured
            if r.visitor.visitor_id != p.visitor_id {
                r.presence_data.clear();
            }
            if r.presence == Presence::NotConfigured {
                r.presence = Presence::Off;
            }
            r.visitor = p;
            r.lookup = Lookup::Pending;
        }
        Phase::Terminated => {} // S-A90, refused before this handler
    }
    Ok(())
}

fn api_start(r: &mut Ready, cx: &mut Ctx<'_>, params: StartParams) -> Result<(), ApiError> {
    if r.session != Session::Idle {
        return cx.refuse(Row::SA21, ApiError::SessionActive(r.session.kind()));
    }
    let StartParams { key, options } = params;
    // in the order of §5's rows: the key (S-A25), the options (S-A27), then consent
    if let StartKey::Custom(k) = &key {
        if let Err(e) = validate_session_key(k) {
            return cx.refuse(Row::SA25, e.into());
        }
    }
    if let Err(e) = options.validate() {
        return cx.refuse(Row::SA27, e.into());
    }
    let request = match key {
        StartKey::Random => KeyRequest::Random,
        StartKey::Custom(k) => KeyRequest::Custom(k),
        // no argument: the visitor id (S-A23, S-A24), or a random key without one (S-A22)
        StartKey::VisitorId => match (&r.visitor.visitor_id, &r.presence) {
            (None, _) => {
                cx.row(Row::SA22);
                KeyRequest::Random
            }
            (
                Some(id),
                Presence::Connected {
                    terms: Terms::Accepted { .. },
                },
            ) => {
                cx.row(Row::SA23);
                KeyRequest::VisitorId(id.clone())
            }
            (
                Some(id),
                Presence::Connected {
                    terms: Terms::AgentStart { .. },
                },
            ) => {
                cx.row(Row::SA26); // granted by the policy and the group (S-F25)
                KeyRequest::VisitorId(id.clone())
            }
            (Some(_), _) => return cx.refuse(Row::SA24, ApiError::ConsentRequired),
        },
    };
    // the start of any session voids an accepted consent: it is for one session (S-A20);
    // a one-click start uses it up (S-A23)
    if let Presence::Connected {
        terms: Terms::Accepted { .. } | Terms::AgentStart { .. },
    } = r.presence
    {
        r.presence = Presence::Connected { terms: Terms::None };
    }
    cx.row(Row::SA20);
    cx.send(start_frame(&request, &options));
    cx.arm(Timer::SessionStart, cx.cfg.start_timeout);
    r.session = Session::Starting { request, options };
    Ok(())
}

/// The `start_session` frame for a start: the key and the options the service enforces
/// (`persist` is the SDK's own, §5.6).
fn start_frame(request: &KeyRequest, options: &StartOptions) -> ClientFrame {
    ClientFrame::StartSession {
        key: request.wire_key(),
        // validated (S-A27): 1 to MAX_GUESTS, which fits
        max_guests: options.max_guests.and_then(|n| u16::try_from(n).ok()),
        paused: options.paused,
    }
}

fn api_end(r: &mut Ready, cx: &mut Ctx<'_>) -> Result<(), ApiError> {
    let keytype = match &r.session {
        Session::Idle => return cx.refuse(Row::SA32, ApiError::NoSession),
        Session::Ending { .. } => {
            return cx.refuse(Row::SA33, ApiError::SessionActive(SessionKind::Ending))
        }
        Session::Starting { request, .. } => {
            cx.row(Row::SA31); // abandon the start
            cx.disarm(Timer::SessionStart);
            request.keytype()
        }
        Session::Running { keytype, .. } => {
            cx.row(Row::SA30);
            *keytype
        }
    };
    cx.send(ClientFrame::EndSession {});
    cx.arm(Timer::SessionEnd, cx.cfg.end_timeout);
    r.session = Session::Ending { keytype };
    Ok(())
}

fn api_presence_connect(
    r: &mut Ready,
    cx: &mut Ctx<'_>,
    max_attempts: i32,
) -> Result<(), ApiError> {
    let max = match validate_max_attempts(max_attempts) {
        Ok(max) => max,
        Err(e) => return cx.refuse(Row::SA45, e.into()),
    };
    if r.visitor.visitor_id.is_none() {
        return cx.refuse(Row::SA41, ApiError::NoVisitorId);
    }
    if r.presence == Presence::NotConfigured {
        return cx.refuse(Row::SA46, ApiError::PresenceNotConfigured);
    }
    if r.presence != Presence::Off {
        return cx.refuse(Row::SA42, ApiError::PresenceActive(r.presence.kind()));
    }
    if cx.link == Link::Up {
        // a failed settings lookup is tried again by a later presence call (the Presence
        // Visitor API page): `init` first, its answer updates the settings (S-F05, S-F06)
        if !r.settings.loaded && r.lookup == Lookup::Done {
            cx.row(Row::SA44);
            cx.send(init_frame(&r.visitor));
            r.lookup = Lookup::Reattaching;
        }
        cx.row(Row::SA40);
    } else {
        cx.row(Row::SA43);
    }
    r.max_attempts = max;
    r.presence = cx.presence_connect(&r.visitor, 0);
    Ok(())
}

fn api_pause(r: &mut Ready, cx: &mut Ctx<'_>, pause: bool) -> Result<(), ApiError> {
    let Session::Running { paused, .. } = &mut r.session else {
        return cx.refuse(Row::SA101, ApiError::SessionNotRunning(r.session.kind()));
    };
    cx.row(Row::SA100);
    *paused = pause;
    cx.send(ClientFrame::Pause { paused: pause });
    Ok(())
}

fn api_user_message(
    r: &mut Ready,
    cx: &mut Ctx<'_>,
    name: String,
    map: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    if let Err(e) = validate_user_message(&name, &map) {
        return cx.refuse(Row::SA112, e.into());
    }
    let Session::Running { .. } = r.session else {
        return cx.refuse(Row::SA111, ApiError::SessionNotRunning(r.session.kind()));
    };
    cx.row(Row::SA110);
    cx.send(ClientFrame::UserMessage { name, map });
    Ok(())
}

fn api_user_state(
    r: &mut Ready,
    cx: &mut Ctx<'_>,
    name: String,
    value: String,
) -> Result<(), ApiError> {
    let Session::Running { user_state, .. } = &mut r.session else {
        return cx.refuse(Row::SA121, ApiError::SessionNotRunning(r.session.kind()));
    };
    if let Err(e) = validate_user_state(user_state, &name, &value) {
        return cx.refuse(Row::SA122, e.into());
    }
    cx.row(Row::SA120);
    user_state.insert(name, value);
    cx.send(ClientFrame::UserState {
        state: user_state.clone(),
    });
    Ok(())
}

/// Presence is wanted but cannot carry a message now (S-A58, S-A71).
fn presence_wanted(p: &Presence) -> bool {
    matches!(
        p,
        Presence::AwaitingLink
            | Presence::Connecting { .. }
            | Presence::RetryWait { .. }
            | Presence::Blurred
            | Presence::Suspended
    )
}

fn api_visibility(r: &mut Ready, cx: &mut Ctx<'_>, visible: bool) -> Result<(), ApiError> {
    match &r.presence {
        Presence::Connected { .. } => {
            cx.row(Row::SA70);
            cx.send(ClientFrame::PresenceVisibility { visible });
            Ok(())
        }
        p if presence_wanted(p) => cx.refuse(Row::SA71, ApiError::PresenceSendFail(p.kind())),
        _ => cx.refuse(Row::SA72, ApiError::PresenceNotConnected),
    }
}

fn api_presence_data(
    r: &mut Ready,
    cx: &mut Ctx<'_>,
    map: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    if let Err(e) = validate_presence_data(&r.presence_data, &map) {
        return cx.refuse(Row::SA81, e.into());
    }
    cx.row(Row::SA80);
    r.presence_data.extend(map);
    if let Presence::Connected { .. } = r.presence {
        cx.send(ClientFrame::PresenceData {
            map: r.presence_data.clone(),
        });
    }
    Ok(())
}

fn api_signal(
    r: &mut Ready,
    cx: &mut Ctx<'_>,
    event: String,
    map: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let status = match validate_signal(&event, &map) {
        Ok(status) => status,
        Err(e) => return cx.refuse(Row::SA57, e.into()),
    };
    let terms = match &r.presence {
        Presence::Connected { terms } => *terms,
        p if presence_wanted(p) => {
            return cx.refuse(Row::SA58, ApiError::PresenceSendFail(p.kind()))
        }
        _ => return cx.refuse(Row::SA51, ApiError::PresenceNotConnected),
    };
    let (row, next, request_id) = match (status, terms) {
        // any other signal passes through
        (None, _) => (Row::SA50, terms, None),
        (Some(TermsStatus::Displayed), Terms::Shown { request_id }) => {
            (Row::SA52, Terms::Displayed { request_id }, Some(request_id))
        }
        (Some(TermsStatus::Accepted), Terms::Displayed { request_id }) => {
            (Row::SA53, Terms::Accepted { request_id }, Some(request_id))
        }
        (Some(TermsStatus::Declined), Terms::Displayed { request_id }) => {
            (Row::SA54, Terms::None, Some(request_id))
        }
        (Some(status @ TermsStatus::Displayed), _) => {
            return cx.refuse(Row::SA55, ApiError::TermsOutOfOrder { status })
        }
        (Some(status), _) => return cx.refuse(Row::SA56, ApiError::TermsOutOfOrder { status }),
    };
    cx.row(row);
    cx.send(ClientFrame::PresenceSignal {
        event,
        map,
        request_id,
    });
    r.presence = Presence::Connected { terms: next };
    Ok(())
}

fn api_presence_disconnect(r: &mut Ready, cx: &mut Ctx<'_>) -> Result<(), ApiError> {
    if matches!(r.presence, Presence::Off | Presence::NotConfigured) {
        return cx.refuse(Row::SA61, ApiError::PresenceNotConnected);
    }
    cx.row(Row::SA60);
    cx.send(ClientFrame::PresenceDisconnect {});
    cx.disarm_presence();
    r.presence = Presence::Off;
    cx.emit(Event::PresenceDisconnected);
    Ok(())
}
