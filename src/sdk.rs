//! The SDK core: the visitor SDK's protocol engine as a sans-IO state machine.
//!
//! One value, [`Sdk`], driven by [`Sdk::handle_input`] and drained by [`Sdk::poll_output`]
//! until [`Output::Timeout`]. Each `match` below is one block of spec.md's SDK transition
//! table (§5), in the same order; the row IDs (`S-…`) are in the comments.

use crate::api::{
    validate_session_key, validate_signal, ApiCall, InitParams, StartKey, TermsStatus,
};
use crate::errors::{ApiError, Error, ProtocolError};
use crate::events::{Event, KeyType};
use crate::frames::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use crate::time::Instant;
use crate::timers::{backoff, Timer, Timers};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

/// Durations of the SDK core's timers (spec.md §7). Every one is at least 1 ms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SdkConfig {
    /// How long `init_visitor` waits for the settings lookup before using defaults.
    pub init_timeout: Duration,
    /// How long `start_session` waits for the server.
    pub start_timeout: Duration,
    /// How long `end_session` waits for the server's confirmation.
    pub end_timeout: Duration,
    /// How long a session survives with the link down.
    pub session_grace: Duration,
    /// How long `presence_connect` waits for an answer.
    pub presence_connect_timeout: Duration,
    /// First presence retry delay; doubles per failure.
    pub presence_backoff_base: Duration,
    /// Longest presence retry delay.
    pub presence_backoff_max: Duration,
    /// First reconnect delay while the link is down; doubles per attempt.
    pub reconnect_backoff_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_backoff_max: Duration,
    /// How long the app may stay in the background before the SDK suspends presence.
    pub background_suspend: Duration,
    /// Random key length when the settings lookup failed.
    pub default_key_length: u8,
}

impl Default for SdkConfig {
    fn default() -> Self {
        SdkConfig::DEFAULT
    }
}

impl SdkConfig {
    /// The defaults, as a constant: cores on the default configuration share one copy.
    const DEFAULT: SdkConfig = SdkConfig {
        init_timeout: Duration::from_secs(10),
        start_timeout: Duration::from_secs(15),
        end_timeout: Duration::from_secs(5),
        session_grace: Duration::from_secs(60),
        presence_connect_timeout: Duration::from_secs(10),
        presence_backoff_base: Duration::from_secs(1),
        presence_backoff_max: Duration::from_secs(30),
        reconnect_backoff_base: Duration::from_secs(1),
        reconnect_backoff_max: Duration::from_secs(16),
        background_suspend: Duration::from_secs(60),
        default_key_length: 4,
    };
}

impl SdkConfig {
    /// The same configuration with every duration raised to at least 1 ms, so that no timer
    /// can fire at the instant that armed it.
    fn sanitized(mut self) -> Self {
        let min = Duration::from_millis(1);
        for d in [
            &mut self.init_timeout,
            &mut self.start_timeout,
            &mut self.end_timeout,
            &mut self.session_grace,
            &mut self.presence_connect_timeout,
            &mut self.presence_backoff_base,
            &mut self.presence_backoff_max,
            &mut self.reconnect_backoff_base,
            &mut self.reconnect_backoff_max,
            &mut self.background_suspend,
        ] {
            *d = (*d).max(min);
        }
        self.default_key_length = self
            .default_key_length
            .clamp(1, crate::frames::MAX_RANDOM_KEY);
        self
    }
}

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

/// Whether the transport is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Frames flow.
    Up,
    /// Frames are not sent; the core asks for reconnects with backoff.
    Down {
        /// Reconnect attempts so far.
        attempt: u32,
    },
}

/// Whether the app is in the foreground.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppVisibility {
    /// In front of the customer.
    Foreground,
    /// Hidden.
    Background,
}

/// The group's settings, from the lookup (or defaults when it failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Settings {
    /// Digits in a random session key.
    pub key_length: u8,
    /// `false` when these are defaults after a failed or overdue lookup.
    pub loaded: bool,
}

/// The SDK's phase: before, during and after the first `init_visitor`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No `init_visitor` yet.
    Uninitialized,
    /// The first `init_visitor` is waiting for its settings lookup.
    Initializing {
        /// The call's parameters.
        visitor: InitParams,
    },
    /// `EventVisitorInitialized` has fired: sessions and presence are possible.
    Ready(Ready),
    /// The app terminated.
    Terminated,
}

impl Phase {
    /// The phase's name in spec.md.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Uninitialized => "uninitialized",
            Phase::Initializing { .. } => "initializing",
            Phase::Ready(_) => "ready",
            Phase::Terminated => "terminated",
        }
    }
}

/// Everything the SDK knows once initialised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ready {
    /// The latest `init_visitor`'s parameters (the group id is the first call's).
    pub visitor: InitParams,
    /// The group's settings.
    pub settings: Settings,
    /// Whether a re-init's settings lookup is in flight.
    pub lookup: Lookup,
    /// The session sub-machine.
    pub session: Session,
    /// The presence sub-machine.
    pub presence: Presence,
}

/// A re-init's settings lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    /// No lookup in flight.
    Done,
    /// A re-init was sent; `EventVisitorInitialized` follows its answer.
    Pending,
}

/// The key a starting session asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRequest {
    /// A random numeric key.
    Random,
    /// The visitor id (one-click).
    VisitorId(String),
    /// The app's own key.
    Custom(String),
}

impl KeyRequest {
    /// How the key is chosen.
    pub fn keytype(&self) -> KeyType {
        match self {
            KeyRequest::Random => KeyType::Random,
            KeyRequest::VisitorId(_) => KeyType::VisitorId,
            KeyRequest::Custom(_) => KeyType::Custom,
        }
    }

    fn wire_key(&self) -> Option<String> {
        match self {
            KeyRequest::Random => None,
            KeyRequest::VisitorId(k) | KeyRequest::Custom(k) => Some(k.clone()),
        }
    }
}

/// The session sub-machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    /// No session.
    Idle,
    /// `start_session` sent; waiting for `session_started`.
    Starting {
        /// The key asked for.
        request: KeyRequest,
    },
    /// The session is up.
    Running {
        /// Its key.
        key: String,
        /// How the key was chosen.
        keytype: KeyType,
        /// Agents in the session.
        guests: u32,
    },
    /// `end_session` sent; waiting for `session_ended`.
    Ending {
        /// How the key was chosen.
        keytype: KeyType,
    },
}

impl Session {
    /// The state's name in spec.md.
    pub fn name(&self) -> &'static str {
        match self {
            Session::Idle => "idle",
            Session::Starting { .. } => "starting",
            Session::Running { .. } => "running",
            Session::Ending { .. } => "ending",
        }
    }
}

/// The presence sub-machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Not connected, not wanted.
    Off,
    /// Wanted, but the link is down; connects when it comes back.
    AwaitingLink,
    /// `presence_connect` frame sent; waiting for the answer.
    Connecting {
        /// Failures so far.
        attempt: u32,
    },
    /// A connect failed; retrying when the backoff timer fires.
    RetryWait {
        /// Failures so far.
        attempt: u32,
    },
    /// Connected; one-click requests arrive.
    Connected {
        /// The one-click terms dialog.
        terms: Terms,
    },
    /// Another app instance took the visitor id; reclaimed on foreground.
    Blurred,
    /// Suspended by the SDK after a long background; resumed on foreground.
    Suspended,
}

impl Presence {
    /// The state's name in spec.md.
    pub fn name(&self) -> &'static str {
        match self {
            Presence::Off => "off",
            Presence::AwaitingLink => "awaiting_link",
            Presence::Connecting { .. } => "connecting",
            Presence::RetryWait { .. } => "retry_wait",
            Presence::Connected { .. } => "connected",
            Presence::Blurred => "blurred",
            Presence::Suspended => "suspended",
        }
    }
}

/// The terms dialog of one one-click request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terms {
    /// No request waiting.
    None,
    /// `EventPresenceShowTerms` delivered; `displayed` not yet signalled.
    Shown {
        /// The request.
        request_id: u64,
    },
    /// `displayed` signalled; waiting for the customer's answer.
    Displayed {
        /// The request.
        request_id: u64,
    },
    /// `accepted` signalled: consent to one `start_session()` with the visitor id.
    Accepted {
        /// The request.
        request_id: u64,
    },
}

/// Everything the SDK core holds except its output queue. Two cores with equal `State` behave
/// the same from here on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct State {
    /// Init phase, and within `Ready`, the session and presence sub-machines.
    pub phase: Phase,
    /// The transport.
    pub link: Link,
    /// Foreground or background.
    pub app: AppVisibility,
    /// `set_default_ui`.
    pub default_ui: bool,
    /// `presence_set_default_ui`.
    pub presence_default_ui: bool,
    /// Armed timers.
    pub timers: Timers,
    /// The latest accepted input's time.
    pub now: Instant,
}

/// The transition-table rows (spec.md §5) that the last input went through, in order: the
/// code names the row it follows, so tests can hold the code against the spec's tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rows {
    ids: [&'static str; Rows::CAPACITY],
    len: usize,
}

impl Rows {
    /// Most rows one input can go through (every timer firing at once, plus one).
    pub const CAPACITY: usize = Timer::ALL.len() + 1;

    pub(crate) fn push(&mut self, id: &'static str) {
        if let Some(slot) = self.ids.get_mut(self.len) {
            *slot = id;
            self.len += 1;
        }
    }

    /// The row IDs, e.g. `["S-A20"]`.
    pub fn as_slice(&self) -> &[&'static str] {
        self.ids.get(..self.len).unwrap_or(&[])
    }
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
    timers: &'a mut Timers,
    out: &'a mut VecDeque<Queued>,
    rows: &'a mut Rows,
}

impl Ctx<'_> {
    /// Names the spec row being followed.
    fn row(&mut self, id: &'static str) {
        self.rows.push(id);
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

    fn presence_retry(&mut self, attempt: u32, reason: String) -> Presence {
        let delay = backoff(
            self.cfg.presence_backoff_base,
            self.cfg.presence_backoff_max,
            attempt,
        );
        self.arm(Timer::PresenceRetry, delay);
        self.emit(Event::PresenceConnectFail {
            reason,
            retry_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
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

fn unexpected(frame: &ServerFrame, state: &'static str) -> ProtocolError {
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

    /// The spec rows (§5) the last `handle_input` went through.
    pub fn last_rows(&self) -> &[&'static str] {
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
    /// A refused input returns the error and leaves [`Sdk::state`] as it was; a refused API
    /// call also queues `EventInvalidParameter` or `EventInvalidState`, as the Glance SDK
    /// reports it.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Result<(), Error> {
        self.rows = Rows::default();
        if now < self.state.now {
            return Err(Error::TimeWentBackwards {
                last: self.state.now,
                now,
            });
        }
        let result = match input {
            Input::Api(call) => {
                let name = call.name();
                self.on_api(now, call).map_err(|e| {
                    let code = e.code();
                    self.out.push_back(Queued::Event(if e.is_parameter_error() {
                        Event::InvalidParameter { call: name, code }
                    } else {
                        Event::InvalidState { call: name, code }
                    }));
                    Error::Api(e)
                })
            }
            Input::Frame(frame) => self.on_frame(now, frame).map_err(Error::Protocol),
            Input::Lifecycle(l) => {
                self.on_lifecycle(now, l);
                Ok(())
            }
            Input::Network(n) => {
                self.on_network(now, n);
                Ok(())
            }
            Input::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
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
                timers,
                out: &mut self.out,
                rows: &mut self.rows,
            },
        )
    }

    fn ui_allowed(&mut self) -> Result<(), ApiError> {
        let (row, result) = match self.state.phase {
            Phase::Uninitialized => ("S-A91", Err(ApiError::NotInitialized)),
            Phase::Terminated => ("S-A90", Err(ApiError::Terminated)),
            _ => return Ok(()),
        };
        self.rows.push(row);
        result
    }

    // ---- API calls: spec.md §5.1 ------------------------------------------------------

    fn on_api(&mut self, now: Instant, call: ApiCall) -> Result<(), ApiError> {
        match call {
            ApiCall::InitVisitor(p) => self.api_init(now, p),
            ApiCall::SetDefaultUi { enabled } => {
                self.ui_allowed()?;
                self.rows.push("S-A10");
                self.state.default_ui = enabled;
                Ok(())
            }
            ApiCall::PresenceSetDefaultUi { enabled } => {
                self.ui_allowed()?;
                self.rows.push("S-A11");
                self.state.presence_default_ui = enabled;
                Ok(())
            }
            ApiCall::StartSession { key } => self.api_start(now, key),
            ApiCall::EndSession => self.api_end(now),
            ApiCall::PresenceConnect => self.api_presence_connect(now),
            ApiCall::PresenceSignalAgent { event, map } => self.api_signal(now, event, map),
            ApiCall::PresenceDisconnect => self.api_presence_disconnect(now),
        }
    }

    fn api_init(&mut self, now: Instant, p: InitParams) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        if *phase == Phase::Terminated {
            cx.row("S-A90");
            return Err(ApiError::Terminated);
        }
        if let Err(e) = p.validate() {
            cx.row("S-A06");
            return Err(e.into());
        }
        let first_group = match phase {
            Phase::Initializing { visitor } => Some(visitor.group_id),
            Phase::Ready(r) => Some(r.visitor.group_id),
            _ => None,
        };
        if let Some(expected) = first_group {
            if expected != p.group_id {
                cx.row("S-A02");
                return Err(ApiError::GroupIdMismatch {
                    expected,
                    got: p.group_id,
                });
            }
        }
        if let Phase::Ready(r) = phase {
            if r.visitor.visitor_id != p.visitor_id && r.presence != Presence::Off {
                cx.row("S-A05");
                return Err(ApiError::VisitorIdChangeWithPresence);
            }
        }
        cx.send(init_frame(&p));
        cx.arm(Timer::InitLookup, cx.cfg.init_timeout);
        match phase {
            Phase::Uninitialized => {
                cx.row("S-A01"); // first init
                *phase = Phase::Initializing { visitor: p };
            }
            Phase::Initializing { visitor } => {
                cx.row("S-A03"); // again before the first completed: the latest wins
                *visitor = p;
            }
            Phase::Ready(r) => {
                cx.row("S-A04"); // keeps session, presence and settings until the lookup answers
                r.visitor = p;
                r.lookup = Lookup::Pending;
            }
            Phase::Terminated => {}
        }
        Ok(())
    }

    fn api_start(&mut self, now: Instant, key: StartKey) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        let r = ready(phase, &mut cx)?;
        if r.session != Session::Idle {
            cx.row("S-A21");
            return Err(ApiError::SessionActive(r.session.name()));
        }
        let request = match key {
            StartKey::Random => KeyRequest::Random,
            StartKey::Custom(k) => {
                if let Err(e) = validate_session_key(&k) {
                    cx.row("S-A25");
                    return Err(e.into());
                }
                KeyRequest::Custom(k)
            }
            // no argument: the visitor id (S-A23, S-A24), or a random key without one (S-A22)
            StartKey::VisitorId => match (&r.visitor.visitor_id, &r.presence) {
                (None, _) => {
                    cx.row("S-A22");
                    KeyRequest::Random
                }
                (
                    Some(id),
                    Presence::Connected {
                        terms: Terms::Accepted { .. },
                    },
                ) => {
                    cx.row("S-A23");
                    KeyRequest::VisitorId(id.clone())
                }
                (Some(_), _) => {
                    cx.row("S-A24");
                    return Err(ApiError::ConsentRequired);
                }
            },
        };
        if let KeyRequest::VisitorId(_) = request {
            // the consent is used up by this session
            r.presence = Presence::Connected { terms: Terms::None };
        }
        cx.row("S-A20");
        cx.send(ClientFrame::StartSession {
            key: request.wire_key(),
        });
        cx.arm(Timer::SessionStart, cx.cfg.start_timeout);
        r.session = Session::Starting { request };
        Ok(())
    }

    fn api_end(&mut self, now: Instant) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        let r = ready(phase, &mut cx)?;
        let keytype = match &r.session {
            Session::Idle => {
                cx.row("S-A32");
                return Err(ApiError::NoSession);
            }
            Session::Ending { .. } => {
                cx.row("S-A33");
                return Err(ApiError::SessionActive("ending"));
            }
            Session::Starting { request } => {
                cx.row("S-A31"); // abandon the start
                cx.disarm(Timer::SessionStart);
                request.keytype()
            }
            Session::Running { keytype, .. } => {
                cx.row("S-A30");
                *keytype
            }
        };
        cx.send(ClientFrame::EndSession {});
        cx.arm(Timer::SessionEnd, cx.cfg.end_timeout);
        r.session = Session::Ending { keytype };
        Ok(())
    }

    fn api_presence_connect(&mut self, now: Instant) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        let r = ready(phase, &mut cx)?;
        if r.visitor.visitor_id.is_none() {
            cx.row("S-A41");
            return Err(ApiError::NoVisitorId);
        }
        if r.presence != Presence::Off {
            cx.row("S-A42");
            return Err(ApiError::PresenceActive(r.presence.name()));
        }
        cx.row(if cx.link == Link::Up {
            "S-A40"
        } else {
            "S-A43"
        });
        r.presence = cx.presence_connect(&r.visitor, 0);
        Ok(())
    }

    fn api_signal(
        &mut self,
        now: Instant,
        event: String,
        map: std::collections::BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        let r = ready(phase, &mut cx)?;
        let status = match validate_signal(&event, &map) {
            Ok(status) => status,
            Err(e) => {
                cx.row("S-A57");
                return Err(e.into());
            }
        };
        let Presence::Connected { terms } = r.presence else {
            cx.row("S-A51");
            return Err(ApiError::PresenceNotConnected);
        };
        let (row, next, request_id) = match (status, terms) {
            // any other signal passes through
            (None, _) => ("S-A50", terms, None),
            (Some(TermsStatus::Displayed), Terms::Shown { request_id }) => {
                ("S-A52", Terms::Displayed { request_id }, Some(request_id))
            }
            (Some(TermsStatus::Accepted), Terms::Displayed { request_id }) => {
                ("S-A53", Terms::Accepted { request_id }, Some(request_id))
            }
            (Some(TermsStatus::Declined), Terms::Displayed { request_id }) => {
                ("S-A54", Terms::None, Some(request_id))
            }
            (Some(TermsStatus::Displayed), _) => {
                cx.row("S-A55");
                return Err(ApiError::TermsOutOfOrder {
                    status: "displayed",
                    why: "no terms request is waiting to be displayed",
                });
            }
            (Some(s), _) => {
                cx.row("S-A56");
                return Err(ApiError::TermsOutOfOrder {
                    status: s.as_str(),
                    why: "terms must be displayed first, and each request answered once",
                });
            }
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

    fn api_presence_disconnect(&mut self, now: Instant) -> Result<(), ApiError> {
        let (phase, mut cx) = self.ctx(now);
        let r = ready(phase, &mut cx)?;
        if r.presence == Presence::Off {
            cx.row("S-A61");
            return Err(ApiError::PresenceNotConnected);
        }
        cx.row("S-A60");
        cx.send(ClientFrame::PresenceDisconnect {});
        cx.disarm_presence();
        r.presence = Presence::Off;
        cx.emit(Event::PresenceDisconnected);
        Ok(())
    }

    // ---- Server frames: spec.md §5.2 --------------------------------------------------

    fn on_frame(&mut self, now: Instant, frame: ServerFrame) -> Result<(), ProtocolError> {
        let default_len = self.config.default_key_length;
        let (phase, mut cx) = self.ctx(now);
        if let Err(e) = frame.validate() {
            cx.row("S-F98");
            return Err(e.into());
        }
        let state_name = phase.name();
        let r = match (phase, &frame) {
            (
                phase @ Phase::Initializing { .. },
                ServerFrame::Settings { .. } | ServerFrame::InitFailed { .. },
            ) => {
                let settings = match &frame {
                    ServerFrame::Settings { key_length, .. } => {
                        cx.row("S-F01");
                        Settings {
                            key_length: *key_length,
                            loaded: true,
                        }
                    }
                    _ => {
                        cx.row("S-F02");
                        Settings {
                            key_length: default_len,
                            loaded: false,
                        }
                    }
                };
                complete_first_init(phase, settings, &mut cx);
                return Ok(());
            }
            (Phase::Ready(r), _) => r,
            (_, f) => {
                cx.row("S-F99");
                return Err(unexpected(f, state_name));
            }
        };
        match (&frame, &r.session, &r.presence) {
            (ServerFrame::Settings { key_length, .. }, _, _) if r.lookup == Lookup::Pending => {
                cx.row("S-F03");
                r.settings = Settings {
                    key_length: *key_length,
                    loaded: true,
                };
                r.lookup = Lookup::Done;
                cx.disarm(Timer::InitLookup);
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: true,
                });
            }
            (ServerFrame::InitFailed { .. }, _, _) if r.lookup == Lookup::Pending => {
                cx.row("S-F04"); // keep the settings we had
                r.lookup = Lookup::Done;
                cx.disarm(Timer::InitLookup);
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (ServerFrame::SessionStarted { sessionkey }, Session::Starting { request }, _) => {
                match request {
                    KeyRequest::Random => {
                        if !sessionkey.bytes().all(|b| b.is_ascii_digit()) {
                            cx.row("S-F16");
                            return Err(ProtocolError::KeyNotNumeric);
                        }
                    }
                    KeyRequest::VisitorId(k) | KeyRequest::Custom(k) => {
                        if k != sessionkey {
                            cx.row("S-F15");
                            return Err(ProtocolError::KeyMismatch);
                        }
                    }
                }
                cx.row("S-F10"); // after S-F16 / S-F15: a refused key is not S-F10
                let keytype = request.keytype();
                cx.disarm(Timer::SessionStart);
                r.session = Session::Running {
                    key: sessionkey.clone(),
                    keytype,
                    guests: 0,
                };
                cx.emit(Event::ConnectedToSession {
                    sessionkey: sessionkey.clone(),
                    keytype,
                });
            }
            (ServerFrame::SessionRefused { reason }, Session::Starting { .. }, _) => {
                cx.row("S-F11");
                cx.disarm(Timer::SessionStart);
                r.session = Session::Idle;
                cx.emit(Event::StartSessionFailed {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::GuestCount { guestcount }, Session::Running { .. }, _) => {
                cx.row("S-F12");
                if let Session::Running { guests, .. } = &mut r.session {
                    *guests = *guestcount;
                }
                cx.emit(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (ServerFrame::GuestCount { guestcount }, Session::Ending { .. }, _) => {
                cx.row("S-F13"); // agents leaving while we end
                cx.emit(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (
                ServerFrame::SessionEnded { reason },
                Session::Running { .. } | Session::Ending { .. },
                _,
            ) => {
                cx.row("S-F14");
                cx.disarm(Timer::SessionEnd);
                cx.disarm(Timer::SessionGrace);
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::PresenceConnected {}, _, Presence::Connecting { .. }) => {
                cx.row("S-F20");
                cx.disarm(Timer::PresenceConnect);
                if cx.app == AppVisibility::Background {
                    cx.arm(Timer::PresenceSuspend, cx.cfg.background_suspend);
                }
                r.presence = Presence::Connected { terms: Terms::None };
                cx.emit(Event::PresenceConnected);
            }
            (
                ServerFrame::PresenceConnectFailed { reason },
                _,
                Presence::Connecting { attempt },
            ) => {
                cx.row("S-F21");
                let attempt = *attempt;
                cx.disarm(Timer::PresenceConnect);
                r.presence = cx.presence_retry(attempt, reason.clone());
            }
            (ServerFrame::PresenceShowTerms { request_id }, _, Presence::Connected { .. }) => {
                cx.row("S-F22"); // a new request replaces any earlier one
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
                cx.row("S-F23");
                r.presence = Presence::Blurred;
                cx.emit(Event::PresenceBlur);
            }
            (f, session, presence) => {
                cx.row("S-F99");
                let state = match f {
                    ServerFrame::Settings { .. } | ServerFrame::InitFailed { .. } => "ready",
                    ServerFrame::SessionStarted { .. }
                    | ServerFrame::SessionRefused { .. }
                    | ServerFrame::GuestCount { .. }
                    | ServerFrame::SessionEnded { .. } => session.name(),
                    _ => presence.name(),
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
                    self.rows.push("S-L03");
                    return;
                }
                self.state.app = AppVisibility::Background;
                let (phase, mut cx) = self.ctx(now);
                cx.row("S-L01");
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
                    self.rows.push("S-L03");
                    return;
                }
                self.state.app = AppVisibility::Foreground;
                let (phase, mut cx) = self.ctx(now);
                cx.disarm(Timer::PresenceSuspend);
                match phase {
                    Phase::Ready(r)
                        if matches!(r.presence, Presence::Suspended | Presence::Blurred) =>
                    {
                        cx.row("S-L02b"); // resume a suspended presence, reclaim a blurred one
                        r.presence = cx.presence_connect(&r.visitor, 0);
                        if r.session != Session::Idle {
                            cx.send(ClientFrame::AppState { foreground: true });
                        }
                    }
                    Phase::Ready(r) => {
                        cx.row("S-L02a");
                        if matches!(r.presence, Presence::Connected { .. })
                            || r.session != Session::Idle
                        {
                            cx.send(ClientFrame::AppState { foreground: true });
                        }
                    }
                    _ => cx.row("S-L02a"),
                }
            }
            Lifecycle::Terminate => {
                let (phase, mut cx) = self.ctx(now);
                if let Phase::Ready(r) = phase {
                    cx.row("S-L04");
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
                    if r.presence != Presence::Off {
                        cx.send(ClientFrame::PresenceDisconnect {});
                        cx.emit(Event::PresenceDisconnected);
                    }
                } else {
                    cx.row("S-L05");
                }
                self.state.timers.clear();
                self.state.phase = Phase::Terminated;
            }
        }
    }

    // ---- Network: spec.md §5.4 --------------------------------------------------------

    fn on_network(&mut self, now: Instant, n: NetworkChange) {
        if self.state.phase == Phase::Terminated {
            self.rows.push("S-N05");
            return;
        }
        match (n, self.state.link) {
            (NetworkChange::Lost, Link::Down { .. }) | (NetworkChange::Restored, Link::Up) => {
                self.rows.push("S-N03");
            }
            (NetworkChange::Lost, Link::Up) => {
                self.rows.push("S-N01");
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
                self.rows.push("S-N02");
                self.state.link = Link::Up;
                let (phase, mut cx) = self.ctx(now);
                cx.disarm(Timer::Reconnect);
                cx.disarm(Timer::SessionGrace);
                cx.emit(Event::ClearWarning);
                match phase {
                    Phase::Uninitialized | Phase::Terminated => {}
                    Phase::Initializing { visitor } => cx.send(init_frame(visitor)),
                    Phase::Ready(r) => {
                        if r.lookup == Lookup::Pending {
                            cx.send(init_frame(&r.visitor));
                        }
                        match &r.session {
                            Session::Idle => {}
                            Session::Starting { request } => cx.send(ClientFrame::StartSession {
                                key: request.wire_key(),
                            }),
                            Session::Running { key, .. } => cx.send(ClientFrame::ResumeSession {
                                sessionkey: key.clone(),
                            }),
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
                self.rows.push("S-T08");
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
            cx.row("S-T01");
            let settings = Settings {
                key_length: default_len,
                loaded: false,
            };
            complete_first_init(phase, settings, &mut cx);
            return;
        }
        let Phase::Ready(r) = phase else {
            return;
        };
        match (timer, &r.session, &r.presence) {
            (Timer::InitLookup, _, _) if r.lookup == Lookup::Pending => {
                cx.row("S-T02");
                r.lookup = Lookup::Done;
                cx.emit(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (Timer::SessionStart, Session::Starting { .. }, _) => {
                cx.row("S-T03");
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
                cx.row("S-T04");
                cx.disarm(Timer::SessionGrace); // armed if the link is down: goes with the session
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: "visitor_ended".into(),
                });
            }
            (Timer::SessionEnd, Session::Ending { .. }, _) => {
                // offline: keep ending; S-N02 re-sends end_session, or S-T05b ends it
                cx.row("S-T04b");
            }
            (Timer::SessionGrace, Session::Starting { .. }, _) if link != Link::Up => {
                cx.row("S-T05a");
                cx.disarm(Timer::SessionStart);
                r.session = Session::Idle;
                cx.emit(Event::StartSessionFailed {
                    reason: "connection_lost".into(),
                });
            }
            (Timer::SessionGrace, Session::Running { .. } | Session::Ending { .. }, _)
                if link != Link::Up =>
            {
                cx.row("S-T05b");
                cx.disarm(Timer::SessionEnd);
                r.session = Session::Idle;
                cx.emit(Event::SessionEnded {
                    reason: "connection_lost".into(),
                });
            }
            (Timer::PresenceConnect, _, Presence::Connecting { attempt }) => {
                cx.row("S-T06a");
                let attempt = *attempt;
                r.presence = cx.presence_retry(attempt, "timeout".into());
            }
            (Timer::PresenceRetry, _, Presence::RetryWait { attempt }) => {
                cx.row("S-T06b");
                let attempt = *attempt;
                r.presence = cx.presence_connect(&r.visitor, attempt);
            }
            // a pending terms request keeps presence up: the customer answers it on return
            (
                Timer::PresenceSuspend,
                _,
                Presence::Connected { terms: Terms::None } | Presence::Blurred,
            ) if app == AppVisibility::Background => {
                cx.row("S-T07");
                cx.send(ClientFrame::PresenceDisconnect {});
                r.presence = Presence::Suspended;
            }
            // A timer whose state has gone: nothing to do (disarmed with its state, so
            // not reached; kept total so that no input can panic).
            _ => {}
        }
    }
}

/// The `Ready` state an API call needs, or why it cannot have it.
fn ready<'p>(phase: &'p mut Phase, cx: &mut Ctx<'_>) -> Result<&'p mut Ready, ApiError> {
    let (row, err) = match phase {
        Phase::Ready(r) => return Ok(r),
        Phase::Uninitialized => ("S-A91", ApiError::NotInitialized),
        Phase::Initializing { .. } => ("S-A92", ApiError::InitPending),
        Phase::Terminated => ("S-A90", ApiError::Terminated),
    };
    cx.row(row);
    Err(err)
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
    });
    cx.emit(Event::VisitorInitialized {
        settings_loaded: settings.loaded,
    });
}

// ---- The output queue and the configuration, kept small (BENCHMARKS.md) -------------------

/// Slots the output queue is allocated with, once: more than any input queues in practice.
const QUEUE_CAPACITY: usize = 8;

/// An output waiting in the queue, as [`Output`] but a third of its size: `Output` is as
/// large as its largest frame (`init`, 128 bytes), a slot here as an [`Event`]. Frames
/// without strings are inline, frames with one string move it in, and only `init` and
/// `presence_signal` (which copy or move strings anyway) are boxed. [`Sdk::poll_output`]
/// turns it back into the same `Output`.
enum Queued {
    Event(Event),
    Connect,
    Frame(QueuedFrame),
}

/// A [`ClientFrame`] in the output queue.
enum QueuedFrame {
    StartSession(Option<String>),
    EndSession,
    ResumeSession(String),
    PresenceConnect(String),
    PresenceDisconnect,
    AppState(bool),
    Boxed(Box<ClientFrame>),
}

impl Queued {
    // Inlined into each `send`, where the frame's variant is known, the match folds away.
    #[inline(always)]
    fn transmit(f: ClientFrame) -> Queued {
        Queued::Frame(match f {
            ClientFrame::StartSession { key } => QueuedFrame::StartSession(key),
            ClientFrame::EndSession {} => QueuedFrame::EndSession,
            ClientFrame::ResumeSession { sessionkey } => QueuedFrame::ResumeSession(sessionkey),
            ClientFrame::PresenceConnect { visitor_id } => QueuedFrame::PresenceConnect(visitor_id),
            ClientFrame::PresenceDisconnect {} => QueuedFrame::PresenceDisconnect,
            ClientFrame::AppState { foreground } => QueuedFrame::AppState(foreground),
            f @ (ClientFrame::Init { .. } | ClientFrame::PresenceSignal { .. }) => {
                QueuedFrame::Boxed(Box::new(f))
            }
        })
    }

    fn into_output(self) -> Output {
        match self {
            Queued::Event(e) => Output::Event(e),
            Queued::Connect => Output::Connect,
            Queued::Frame(f) => Output::Transmit(f.into_frame()),
        }
    }
}

impl QueuedFrame {
    fn into_frame(self) -> ClientFrame {
        match self {
            QueuedFrame::StartSession(key) => ClientFrame::StartSession { key },
            QueuedFrame::EndSession => ClientFrame::EndSession {},
            QueuedFrame::ResumeSession(sessionkey) => ClientFrame::ResumeSession { sessionkey },
            QueuedFrame::PresenceConnect(visitor_id) => ClientFrame::PresenceConnect { visitor_id },
            QueuedFrame::PresenceDisconnect => ClientFrame::PresenceDisconnect {},
            QueuedFrame::AppState(foreground) => ClientFrame::AppState { foreground },
            QueuedFrame::Boxed(f) => *f,
        }
    }
}

impl Clone for Queued {
    fn clone(&self) -> Self {
        match self {
            Queued::Event(e) => Queued::Event(e.clone()),
            Queued::Connect => Queued::Connect,
            Queued::Frame(f) => Queued::transmit(f.to_frame()),
        }
    }
}

impl QueuedFrame {
    fn to_frame(&self) -> ClientFrame {
        match self {
            QueuedFrame::StartSession(key) => ClientFrame::StartSession { key: key.clone() },
            QueuedFrame::EndSession => ClientFrame::EndSession {},
            QueuedFrame::ResumeSession(k) => ClientFrame::ResumeSession {
                sessionkey: k.clone(),
            },
            QueuedFrame::PresenceConnect(id) => ClientFrame::PresenceConnect {
                visitor_id: id.clone(),
            },
            QueuedFrame::PresenceDisconnect => ClientFrame::PresenceDisconnect {},
            QueuedFrame::AppState(foreground) => ClientFrame::AppState {
                foreground: *foreground,
            },
            QueuedFrame::Boxed(f) => (**f).clone(),
        }
    }
}

/// Prints as the [`Output`] it stands for.
impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Event(e) => f.debug_tuple("Event").field(e).finish(),
            Queued::Connect => f.write_str("Connect"),
            Queued::Frame(frame) => f.debug_tuple("Transmit").field(&frame.to_frame()).finish(),
        }
    }
}

/// The configuration in force: the default one, shared by every core that uses it (so it
/// costs a visitor nothing), or a custom one, boxed.
#[derive(Clone)]
enum Config {
    Default,
    Custom(Box<SdkConfig>),
}

static DEFAULT_CONFIG: SdkConfig = SdkConfig::DEFAULT;

impl Config {
    fn new(config: SdkConfig) -> Config {
        if config == SdkConfig::DEFAULT {
            Config::Default
        } else {
            Config::Custom(Box::new(config))
        }
    }
}

impl std::ops::Deref for Config {
    type Target = SdkConfig;

    fn deref(&self) -> &SdkConfig {
        match self {
            Config::Default => &DEFAULT_CONFIG,
            Config::Custom(c) => c,
        }
    }
}

/// Prints as the [`SdkConfig`] it stands for.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        SdkConfig::fmt(self, f)
    }
}
