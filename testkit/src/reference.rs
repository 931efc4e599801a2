//! The reference model: the visitor flow written again, small and plain, from spec.md alone.
//!
//! - [`MSdk`] is §5 (the SDK core's tables) with the §7 defaults and the §3.3 / §8.3 rules.
//! - [`MCtl`] is §6 (the integration controller's table).
//! - [`MServer`] is the simulated service of §13 (where §13 is silent: the simulator's
//!   documented behaviour — answer each frame at once, refuse unknown visitors, expire sessions
//!   on resume).
//! - [`MWorld`] plays contract scenario steps through the three of them the way §13 and the
//!   contract describe: after each step, deliver everything until nothing moves; only
//!   `advance_ms` moves the clock and fires each due timer at its deadline.
//!
//! Every function here is pure over plain values: `(state, input) -> (state, result, outputs,
//! rows)`. The model uses the crate's *vocabulary* types (API calls, frames, events, outputs,
//! UI directives, scenario steps: the interface) but none of its state types or logic.

use cobrowse_visitor_conformance::transcript::{
    AgentAction, ErrorRecord, EventRecord, Observed, Step,
};
use cobrowse_visitor_core::{ApiCall, CallName, ErrorCode, Row};
use cobrowse_visitor_core::{
    ClientFrame, Event, InitParams, Input, KeyType, Lifecycle, NetworkChange, Output, ServerFrame,
    StartKey,
};
use cobrowse_visitor_core::{ControllerOutput, UiDirective, UiElement, UserIntent};
use std::collections::{BTreeMap, VecDeque};

/// Spec row IDs an input went through.
pub type Rows = Vec<Row>;
/// A refusal's error code (spec §9).
pub type Code = ErrorCode;

// ---- §7 defaults ------------------------------------------------------------------------------

pub const INIT_TIMEOUT: u64 = 10_000;
pub const START_TIMEOUT: u64 = 15_000;
pub const END_TIMEOUT: u64 = 5_000;
pub const SESSION_GRACE: u64 = 60_000;
pub const PRESENCE_CONNECT_TIMEOUT: u64 = 10_000;
pub const PRESENCE_BACKOFF: (u64, u64) = (1_000, 30_000);
pub const RECONNECT_BACKOFF: (u64, u64) = (1_000, 16_000);
pub const BACKGROUND_SUSPEND: u64 = 60_000;
pub const DEFAULT_KEY_LENGTH: u8 = 4;
/// The simulated server's group and random key length (§13).
pub const SIM_KEY_LENGTH: u8 = 4;

/// `base · 2^attempt`, at most `max` (§7).
pub fn backoff((base, max): (u64, u64), attempt: u32) -> u64 {
    let mut d = base;
    for _ in 0..attempt {
        if d >= max {
            break;
        }
        d = d.saturating_mul(2);
    }
    d.min(max)
}

/// The timers of §7, in the order ties fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum T {
    InitLookup,
    SessionStart,
    SessionEnd,
    SessionGrace,
    PresenceConnect,
    PresenceRetry,
    PresenceSuspend,
    Reconnect,
}

// ---- §3.3 and §8.3 rules ----------------------------------------------------------------------

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `visitor_id`: 1–62 characters of `[A-Za-z0-9-_~]`.
pub fn visitor_id_ok(id: &str) -> bool {
    (1..=62).contains(&chars(id))
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_~".contains(c))
}

/// A custom session key: 1–63 base64url characters `[A-Za-z0-9-_]` other than
/// `GLANCE_KEYTYPE_RANDOM`.
pub fn custom_key_ok(k: &str) -> bool {
    k != "GLANCE_KEYTYPE_RANDOM"
        && (1..=63).contains(&chars(k))
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

fn init_ok(p: &InitParams) -> bool {
    p.group_id > 0
        && chars(&p.token) <= 1024
        && chars(&p.name) <= 63
        && chars(&p.email) <= 127
        && chars(&p.phone) <= 31
        && p.visitor_id.as_deref().is_none_or(visitor_id_ok)
}

/// `presence_signal_agent`: `event` 1–255 characters, `map` ≤ 16 entries of ≤ 255 characters;
/// `terms` needs `status` ∈ {displayed, accepted, declined}. Returns the terms status (or
/// `Some(None)` for another valid signal), `None` when invalid.
fn signal_ok(event: &str, map: &BTreeMap<String, String>) -> Option<Option<&'static str>> {
    if !(1..=255).contains(&chars(event))
        || map.len() > 16
        || map.iter().any(|(k, v)| chars(k) > 255 || chars(v) > 255)
    {
        return None;
    }
    if event != "terms" {
        return Some(None);
    }
    match map.get("status").map(String::as_str) {
        Some("displayed") => Some(Some("displayed")),
        Some("accepted") => Some(Some("accepted")),
        Some("declined") => Some(Some("declined")),
        _ => None,
    }
}

/// §8.3: the frame's fields in range, else the error code.
fn frame_ok(f: &ServerFrame) -> Result<(), Code> {
    let reason = |r: &str| {
        if r.len() > 256 {
            Err(ErrorCode::FrameField)
        } else {
            Ok(())
        }
    };
    match f {
        ServerFrame::Settings { v, key_length } => {
            if *v != 1 {
                Err(ErrorCode::ProtocolVersion)
            } else if !(1..=16).contains(key_length) {
                Err(ErrorCode::FrameField)
            } else {
                Ok(())
            }
        }
        ServerFrame::InitFailed { reason: r }
        | ServerFrame::SessionRefused { reason: r }
        | ServerFrame::SessionEnded { reason: r }
        | ServerFrame::PresenceConnectFailed { reason: r } => reason(r),
        ServerFrame::SessionStarted { sessionkey } => {
            if custom_key_ok(sessionkey) || visitor_id_ok(sessionkey) {
                Ok(())
            } else {
                Err(ErrorCode::FrameField)
            }
        }
        _ => Ok(()),
    }
}

fn all_digits(k: &str) -> bool {
    k.bytes().all(|b| b.is_ascii_digit())
}

// ---- the SDK core, §4.1 and §5 ----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MPhase {
    Uninitialized,
    Initializing(InitParams),
    Ready(MReady),
    Terminated,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MReady {
    pub visitor: InitParams,
    pub key_length: u8,
    pub loaded: bool,
    pub lookup_pending: bool,
    /// `init` re-sent on a new link (S-N02); its answer is silent (S-F05, S-F06).
    pub reattaching: bool,
    pub session: MSession,
    pub presence: MPresence,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MRequest {
    Random,
    VisitorId(String),
    Custom(String),
}

impl MRequest {
    fn keytype(&self) -> KeyType {
        match self {
            MRequest::Random => KeyType::Random,
            MRequest::VisitorId(_) => KeyType::VisitorId,
            MRequest::Custom(_) => KeyType::Custom,
        }
    }
    fn wire(&self) -> Option<String> {
        match self {
            MRequest::Random => None,
            MRequest::VisitorId(k) | MRequest::Custom(k) => Some(k.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MSession {
    Idle,
    Starting(MRequest),
    Running {
        key: String,
        keytype: KeyType,
        guests: u32,
    },
    Ending(KeyType),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MTerms {
    None,
    Shown(u64),
    Displayed(u64),
    Accepted(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MPresence {
    Off,
    AwaitingLink,
    Connecting(u32),
    RetryWait(u32),
    Connected(MTerms),
    Blurred,
    Suspended,
}

/// The SDK core's state (§4.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MSdk {
    pub phase: MPhase,
    /// `None` when the link is up, else the reconnect attempts so far.
    pub link_down: Option<u32>,
    pub background: bool,
    pub default_ui: bool,
    pub presence_default_ui: bool,
    pub timers: BTreeMap<T, u64>,
    pub now: u64,
}

/// What one SDK input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkStep {
    pub next: MSdk,
    pub result: Result<(), Code>,
    pub out: Vec<Output>,
    pub rows: Rows,
}

/// Outputs and rows of an input being handled.
struct Fx {
    out: Vec<Output>,
    rows: Rows,
}

impl Fx {
    fn event(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }
}

fn init_frame(p: &InitParams) -> ClientFrame {
    ClientFrame::Init {
        v: 1,
        group_id: p.group_id,
        token: p.token.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        visitor_id: p.visitor_id.clone(),
    }
}

impl Default for MSdk {
    fn default() -> Self {
        MSdk {
            phase: MPhase::Uninitialized,
            link_down: None,
            background: false,
            default_ui: true,
            presence_default_ui: true,
            timers: BTreeMap::new(),
            now: 0,
        }
    }
}

impl MSdk {
    pub fn ready(&self) -> Option<&MReady> {
        match &self.phase {
            MPhase::Ready(r) => Some(r),
            _ => None,
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.values().min().copied()
    }

    /// Handles one input at `now` (§2: an earlier `now` is refused and changes nothing; a
    /// refused input changes nothing; a refused API call queues its refusal event).
    pub fn input(&self, now: u64, input: &Input) -> SdkStep {
        if now < self.now {
            return SdkStep {
                next: self.clone(),
                result: Err(ErrorCode::TimeWentBackwards),
                out: vec![],
                rows: vec![],
            };
        }
        let mut m = self.clone();
        m.now = now;
        let mut fx = Fx {
            out: vec![],
            rows: vec![],
        };
        // §2: the timers due at `now` fire first, whatever the input
        let any_due = self.timers.values().any(|d| *d <= now);
        m.timeout(&mut fx);
        let fired = m.clone();
        let timer_out = fx.out.len();
        let result = match input {
            Input::Api(call) => m.api(call, &mut fx),
            Input::Frame(f) => m.frame(f, &mut fx),
            Input::Lifecycle(l) => {
                m.lifecycle(*l, &mut fx);
                Ok(())
            }
            Input::Network(n) => {
                m.network(*n, &mut fx);
                Ok(())
            }
            Input::Timeout => Ok(()),
        };
        match result {
            Ok(()) => SdkStep {
                next: m,
                result,
                out: fx.out,
                rows: fx.rows,
            },
            Err(code) => {
                // a refusal keeps what the due timers did, and nothing of the input
                let mut out = fx.out;
                out.truncate(timer_out);
                if let Input::Api(call) = input {
                    let (call, code) = (call.name(), code);
                    out.push(Output::Event(
                        if code == ErrorCode::InvalidParameter || code == ErrorCode::GroupIdMismatch
                        {
                            Event::InvalidParameter { call, code }
                        } else {
                            Event::InvalidState { call, code }
                        },
                    ));
                }
                SdkStep {
                    next: if any_due { fired } else { self.clone() },
                    result,
                    out,
                    rows: fx.rows,
                }
            }
        }
    }

    fn send(&self, fx: &mut Fx, f: ClientFrame) {
        if self.link_down.is_none() {
            fx.out.push(Output::Transmit(f));
        }
    }

    fn arm(&mut self, t: T, after: u64) {
        self.timers.insert(t, self.now + after);
    }

    fn disarm(&mut self, t: T) {
        self.timers.remove(&t);
    }

    fn disarm_presence(&mut self) {
        self.disarm(T::PresenceConnect);
        self.disarm(T::PresenceRetry);
        self.disarm(T::PresenceSuspend);
    }

    fn ready_mut(&mut self) -> &mut MReady {
        match &mut self.phase {
            MPhase::Ready(r) => r,
            _ => unreachable!("only called in phase=ready"),
        }
    }

    /// Presence wants a connection (S-A40 / S-A43, S-L02b, S-N02, S-T06b): connect now when
    /// the link is up, else wait for it.
    fn presence_connect(&mut self, fx: &mut Fx, attempt: u32) {
        let up = self.link_down.is_none();
        let vid = self
            .ready_mut()
            .visitor
            .visitor_id
            .clone()
            .unwrap_or_default();
        if up {
            self.send(fx, ClientFrame::PresenceConnect { visitor_id: vid });
            self.arm(T::PresenceConnect, PRESENCE_CONNECT_TIMEOUT);
            self.ready_mut().presence = MPresence::Connecting(attempt);
        } else {
            self.ready_mut().presence = MPresence::AwaitingLink;
        }
    }

    /// S-F21 / S-T06a: a failed attempt `a`; retry after backoff(a).
    fn presence_failed(&mut self, fx: &mut Fx, a: u32, reason: String) {
        let delay = backoff(PRESENCE_BACKOFF, a);
        self.arm(T::PresenceRetry, delay);
        self.ready_mut().presence = MPresence::RetryWait(a + 1);
        fx.event(Event::PresenceConnectFail {
            reason,
            retry_ms: delay,
        });
    }

    // §5.1
    fn api(&mut self, call: &ApiCall, fx: &mut Fx) -> Result<(), Code> {
        if self.phase == MPhase::Terminated {
            fx.rows.push(Row::SA90);
            return Err(ErrorCode::Terminated);
        }
        if let ApiCall::InitVisitor(p) = call {
            return self.init(p, fx);
        }
        match (&self.phase, call) {
            (MPhase::Uninitialized, _) => {
                fx.rows.push(Row::SA91);
                return Err(ErrorCode::NotInitialized);
            }
            (MPhase::Initializing(_), ApiCall::SetDefaultUi { .. })
            | (MPhase::Initializing(_), ApiCall::PresenceSetDefaultUi { .. })
            | (MPhase::Ready(_), _) => {}
            (MPhase::Initializing(_), _) => {
                fx.rows.push(Row::SA92);
                return Err(ErrorCode::InitPending);
            }
            (MPhase::Terminated, _) => unreachable!(),
        }
        match call {
            ApiCall::SetDefaultUi { enabled } => {
                fx.rows.push(Row::SA10);
                self.default_ui = *enabled;
                Ok(())
            }
            ApiCall::PresenceSetDefaultUi { enabled } => {
                fx.rows.push(Row::SA11);
                self.presence_default_ui = *enabled;
                Ok(())
            }
            ApiCall::StartSession { key } => self.start(key, fx),
            ApiCall::EndSession => self.end(fx),
            ApiCall::PresenceConnect => {
                let r = self.ready_mut();
                if r.presence != MPresence::Off {
                    fx.rows.push(Row::SA42);
                    return Err(ErrorCode::PresenceActive);
                }
                if r.visitor.visitor_id.is_none() {
                    fx.rows.push(Row::SA41);
                    return Err(ErrorCode::NoVisitorId);
                }
                fx.rows.push(if self.link_down.is_none() {
                    Row::SA40
                } else {
                    Row::SA43
                });
                self.presence_connect(fx, 0);
                Ok(())
            }
            ApiCall::PresenceSignalAgent { event, map } => self.signal(event, map, fx),
            ApiCall::PresenceDisconnect => {
                if self.ready_mut().presence == MPresence::Off {
                    fx.rows.push(Row::SA61);
                    return Err(ErrorCode::PresenceNotConnected);
                }
                fx.rows.push(Row::SA60);
                self.send(fx, ClientFrame::PresenceDisconnect {});
                self.disarm_presence();
                self.ready_mut().presence = MPresence::Off;
                fx.event(Event::PresenceDisconnected);
                Ok(())
            }
            ApiCall::InitVisitor(_) => unreachable!(),
        }
    }

    fn init(&mut self, p: &InitParams, fx: &mut Fx) -> Result<(), Code> {
        if !init_ok(p) {
            fx.rows.push(Row::SA06);
            return Err(ErrorCode::InvalidParameter);
        }
        let first_group = match &self.phase {
            MPhase::Initializing(v) => Some(v.group_id),
            MPhase::Ready(r) => Some(r.visitor.group_id),
            _ => None,
        };
        if self.phase == MPhase::Uninitialized {
            fx.rows.push(Row::SA01);
            self.phase = MPhase::Initializing(p.clone());
        } else if first_group != Some(p.group_id) {
            fx.rows.push(Row::SA02);
            return Err(ErrorCode::GroupIdMismatch);
        } else if let MPhase::Initializing(v) = &mut self.phase {
            fx.rows.push(Row::SA03);
            *v = p.clone();
        } else {
            let r = self.ready_mut();
            if r.presence != MPresence::Off && r.visitor.visitor_id != p.visitor_id {
                fx.rows.push(Row::SA05);
                return Err(ErrorCode::VisitorIdChangeWithPresence);
            }
            fx.rows.push(Row::SA04);
            r.visitor = p.clone();
            r.lookup_pending = true;
            r.reattaching = false;
        }
        self.send(fx, init_frame(p));
        self.arm(T::InitLookup, INIT_TIMEOUT);
        Ok(())
    }

    fn start(&mut self, key: &StartKey, fx: &mut Fx) -> Result<(), Code> {
        let r = self.ready_mut();
        if r.session != MSession::Idle {
            fx.rows.push(Row::SA21);
            return Err(ErrorCode::SessionActive);
        }
        let request = match key {
            StartKey::Custom(k) if !custom_key_ok(k) => {
                fx.rows.push(Row::SA25);
                return Err(ErrorCode::InvalidParameter);
            }
            StartKey::Custom(k) => MRequest::Custom(k.clone()),
            StartKey::Random => MRequest::Random,
            StartKey::VisitorId => match (&r.visitor.visitor_id, &r.presence) {
                (None, _) => {
                    fx.rows.push(Row::SA22);
                    MRequest::Random
                }
                (Some(id), MPresence::Connected(MTerms::Accepted(_))) => {
                    fx.rows.push(Row::SA23);
                    let id = id.clone();
                    r.presence = MPresence::Connected(MTerms::None);
                    MRequest::VisitorId(id)
                }
                (Some(_), _) => {
                    fx.rows.push(Row::SA24);
                    return Err(ErrorCode::ConsentRequired);
                }
            },
        };
        fx.rows.push(Row::SA20);
        self.send(
            fx,
            ClientFrame::StartSession {
                key: request.wire(),
            },
        );
        self.arm(T::SessionStart, START_TIMEOUT);
        self.ready_mut().session = MSession::Starting(request);
        Ok(())
    }

    fn end(&mut self, fx: &mut Fx) -> Result<(), Code> {
        let keytype = match &self.ready_mut().session {
            MSession::Idle => {
                fx.rows.push(Row::SA32);
                return Err(ErrorCode::NoSession);
            }
            MSession::Ending(_) => {
                fx.rows.push(Row::SA33);
                return Err(ErrorCode::SessionActive);
            }
            MSession::Running { keytype, .. } => {
                fx.rows.push(Row::SA30);
                *keytype
            }
            MSession::Starting(req) => {
                fx.rows.push(Row::SA31);
                let k = req.keytype();
                self.disarm(T::SessionStart);
                k
            }
        };
        self.send(fx, ClientFrame::EndSession {});
        self.arm(T::SessionEnd, END_TIMEOUT);
        self.ready_mut().session = MSession::Ending(keytype);
        Ok(())
    }

    fn signal(
        &mut self,
        event: &str,
        map: &BTreeMap<String, String>,
        fx: &mut Fx,
    ) -> Result<(), Code> {
        let Some(status) = signal_ok(event, map) else {
            fx.rows.push(Row::SA57);
            return Err(ErrorCode::InvalidParameter);
        };
        let MPresence::Connected(terms) = self.ready_mut().presence else {
            fx.rows.push(Row::SA51);
            return Err(ErrorCode::PresenceNotConnected);
        };
        let (row, next, request_id) = match (status, terms) {
            (None, t) => (Row::SA50, t, None),
            (Some("displayed"), MTerms::Shown(r)) => (Row::SA52, MTerms::Displayed(r), Some(r)),
            (Some("accepted"), MTerms::Displayed(r)) => (Row::SA53, MTerms::Accepted(r), Some(r)),
            (Some("declined"), MTerms::Displayed(r)) => (Row::SA54, MTerms::None, Some(r)),
            (Some("displayed"), _) => {
                fx.rows.push(Row::SA55);
                return Err(ErrorCode::TermsOutOfOrder);
            }
            (Some(_), _) => {
                fx.rows.push(Row::SA56);
                return Err(ErrorCode::TermsOutOfOrder);
            }
        };
        fx.rows.push(row);
        self.send(
            fx,
            ClientFrame::PresenceSignal {
                event: event.to_owned(),
                map: map.clone(),
                request_id,
            },
        );
        self.ready_mut().presence = MPresence::Connected(next);
        Ok(())
    }

    // §5.2
    fn frame(&mut self, f: &ServerFrame, fx: &mut Fx) -> Result<(), Code> {
        if let Err(code) = frame_ok(f) {
            fx.rows.push(Row::SF98);
            return Err(code);
        }
        if let MPhase::Initializing(v) = self.phase.clone() {
            let (row, key_length, loaded) = match f {
                ServerFrame::Settings { key_length, .. } => (Row::SF01, *key_length, true),
                ServerFrame::InitFailed { .. } => (Row::SF02, DEFAULT_KEY_LENGTH, false),
                _ => {
                    fx.rows.push(Row::SF99);
                    return Err(ErrorCode::UnexpectedFrame);
                }
            };
            fx.rows.push(row);
            self.disarm(T::InitLookup);
            self.phase = MPhase::Ready(MReady {
                visitor: v,
                key_length,
                loaded,
                lookup_pending: false,
                reattaching: false,
                session: MSession::Idle,
                presence: MPresence::Off,
            });
            fx.event(Event::VisitorInitialized {
                settings_loaded: loaded,
            });
            return Ok(());
        }
        if self.ready().is_none() {
            fx.rows.push(Row::SF99);
            return Err(ErrorCode::UnexpectedFrame);
        }
        let background = self.background;
        let r = self.ready_mut();
        match (f, &r.session, &r.presence) {
            (ServerFrame::Settings { key_length, .. }, _, _) if r.lookup_pending => {
                fx.rows.push(Row::SF03);
                r.key_length = *key_length;
                r.loaded = true;
                r.lookup_pending = false;
                self.disarm(T::InitLookup);
                fx.event(Event::VisitorInitialized {
                    settings_loaded: true,
                });
            }
            (ServerFrame::InitFailed { .. }, _, _) if r.lookup_pending => {
                fx.rows.push(Row::SF04);
                r.lookup_pending = false;
                self.disarm(T::InitLookup);
                fx.event(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (ServerFrame::Settings { key_length, .. }, _, _) if r.reattaching => {
                fx.rows.push(Row::SF05);
                r.key_length = *key_length;
                r.loaded = true;
                r.reattaching = false;
            }
            (ServerFrame::InitFailed { .. }, _, _) if r.reattaching => {
                fx.rows.push(Row::SF06);
                r.reattaching = false;
            }
            (ServerFrame::SessionStarted { sessionkey: k }, MSession::Starting(req), _) => {
                match req {
                    MRequest::Random if !all_digits(k) => {
                        fx.rows.push(Row::SF16);
                        return Err(ErrorCode::KeyNotNumeric);
                    }
                    MRequest::VisitorId(x) | MRequest::Custom(x) if x != k => {
                        fx.rows.push(Row::SF15);
                        return Err(ErrorCode::KeyMismatch);
                    }
                    _ => {}
                }
                fx.rows.push(Row::SF10);
                let keytype = req.keytype();
                r.session = MSession::Running {
                    key: k.clone(),
                    keytype,
                    guests: 0,
                };
                self.disarm(T::SessionStart);
                fx.event(Event::ConnectedToSession {
                    sessionkey: k.clone(),
                    keytype,
                });
            }
            (ServerFrame::SessionRefused { reason }, MSession::Starting(_), _) => {
                fx.rows.push(Row::SF11);
                r.session = MSession::Idle;
                self.disarm(T::SessionStart);
                fx.event(Event::StartSessionFailed {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::GuestCount { guestcount }, MSession::Running { .. }, _) => {
                fx.rows.push(Row::SF12);
                if let MSession::Running { guests, .. } = &mut r.session {
                    *guests = *guestcount;
                }
                fx.event(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (ServerFrame::GuestCount { guestcount }, MSession::Ending(_), _) => {
                fx.rows.push(Row::SF13);
                fx.event(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
            (
                ServerFrame::SessionEnded { reason },
                MSession::Running { .. } | MSession::Ending(_),
                _,
            ) => {
                fx.rows.push(Row::SF14);
                r.session = MSession::Idle;
                self.disarm(T::SessionEnd);
                self.disarm(T::SessionGrace);
                fx.event(Event::SessionEnded {
                    reason: reason.clone(),
                });
            }
            (ServerFrame::PresenceConnected {}, _, MPresence::Connecting(_)) => {
                fx.rows.push(Row::SF20);
                r.presence = MPresence::Connected(MTerms::None);
                self.disarm(T::PresenceConnect);
                if background {
                    self.arm(T::PresenceSuspend, BACKGROUND_SUSPEND);
                }
                fx.event(Event::PresenceConnected);
            }
            (ServerFrame::PresenceConnectFailed { reason }, _, MPresence::Connecting(a)) => {
                fx.rows.push(Row::SF21);
                let a = *a;
                self.disarm(T::PresenceConnect);
                self.presence_failed(fx, a, reason.clone());
            }
            (ServerFrame::PresenceShowTerms { request_id }, _, MPresence::Connected(_)) => {
                fx.rows.push(Row::SF22);
                r.presence = MPresence::Connected(MTerms::Shown(*request_id));
                fx.event(Event::PresenceShowTerms {
                    request_id: *request_id,
                });
            }
            (ServerFrame::PresenceBlur {}, _, MPresence::Connected(_)) => {
                fx.rows.push(Row::SF23);
                r.presence = MPresence::Blurred;
                fx.event(Event::PresenceBlur);
            }
            _ => {
                fx.rows.push(Row::SF99);
                return Err(ErrorCode::UnexpectedFrame);
            }
        }
        Ok(())
    }

    // §5.3
    fn lifecycle(&mut self, l: Lifecycle, fx: &mut Fx) {
        match l {
            Lifecycle::Background if self.background => fx.rows.push(Row::SL03),
            Lifecycle::Foreground if !self.background => fx.rows.push(Row::SL03),
            Lifecycle::Background => {
                fx.rows.push(Row::SL01);
                self.background = true;
                if let Some(r) = self.ready() {
                    let on = matches!(r.presence, MPresence::Connected(_) | MPresence::Blurred);
                    let busy = r.session != MSession::Idle;
                    if on {
                        self.arm(T::PresenceSuspend, BACKGROUND_SUSPEND);
                    }
                    if on || busy {
                        self.send(fx, ClientFrame::AppState { foreground: false });
                    }
                }
            }
            Lifecycle::Foreground => {
                self.background = false;
                self.disarm(T::PresenceSuspend);
                let (reclaim, tell) = match self.ready() {
                    Some(r) => (
                        matches!(r.presence, MPresence::Suspended | MPresence::Blurred),
                        matches!(r.presence, MPresence::Connected(_))
                            || r.session != MSession::Idle,
                    ),
                    None => (false, false),
                };
                if reclaim {
                    fx.rows.push(Row::SL02b);
                    self.presence_connect(fx, 0);
                    if self.ready().is_some_and(|r| r.session != MSession::Idle) {
                        self.send(fx, ClientFrame::AppState { foreground: true });
                    }
                } else {
                    fx.rows.push(Row::SL02a);
                    if tell {
                        self.send(fx, ClientFrame::AppState { foreground: true });
                    }
                }
            }
            Lifecycle::Terminate => {
                if let Some(r) = self.ready().cloned() {
                    fx.rows.push(Row::SL04);
                    let terminated = || "terminated".to_owned();
                    match r.session {
                        MSession::Idle => {}
                        MSession::Starting(_) => {
                            self.send(fx, ClientFrame::EndSession {});
                            fx.event(Event::StartSessionFailed {
                                reason: terminated(),
                            });
                        }
                        MSession::Running { .. } => {
                            self.send(fx, ClientFrame::EndSession {});
                            fx.event(Event::SessionEnded {
                                reason: terminated(),
                            });
                        }
                        MSession::Ending(_) => fx.event(Event::SessionEnded {
                            reason: terminated(),
                        }),
                    }
                    if r.presence != MPresence::Off {
                        self.send(fx, ClientFrame::PresenceDisconnect {});
                        fx.event(Event::PresenceDisconnected);
                    }
                } else {
                    fx.rows.push(Row::SL05);
                }
                self.phase = MPhase::Terminated;
                self.timers.clear();
            }
        }
    }

    // §5.4
    fn network(&mut self, n: NetworkChange, fx: &mut Fx) {
        if self.phase == MPhase::Terminated {
            fx.rows.push(Row::SN05);
            return;
        }
        match (n, self.link_down) {
            (NetworkChange::Lost, Some(_)) | (NetworkChange::Restored, None) => {
                fx.rows.push(Row::SN03)
            }
            (NetworkChange::Lost, None) => {
                fx.rows.push(Row::SN01);
                self.link_down = Some(0);
                self.arm(T::Reconnect, backoff(RECONNECT_BACKOFF, 0));
                fx.event(Event::ConnectionWarning);
                if let Some(r) = self.ready().cloned() {
                    if r.session != MSession::Idle {
                        self.arm(T::SessionGrace, SESSION_GRACE);
                    }
                    if matches!(
                        r.presence,
                        MPresence::Connecting(_)
                            | MPresence::RetryWait(_)
                            | MPresence::Connected(_)
                            | MPresence::Blurred
                    ) {
                        self.disarm_presence();
                        self.ready_mut().presence = MPresence::AwaitingLink;
                    }
                }
            }
            (NetworkChange::Restored, Some(_)) => {
                fx.rows.push(Row::SN02);
                self.link_down = None;
                self.disarm(T::Reconnect);
                self.disarm(T::SessionGrace);
                fx.event(Event::ClearWarning);
                match self.phase.clone() {
                    MPhase::Initializing(v) => self.send(fx, init_frame(&v)),
                    MPhase::Ready(r) => {
                        // every connection starts with init (§5.4)
                        self.send(fx, init_frame(&r.visitor));
                        if !r.lookup_pending {
                            self.ready_mut().reattaching = true;
                        }
                        match &r.session {
                            MSession::Idle => {}
                            MSession::Starting(req) => {
                                self.send(fx, ClientFrame::StartSession { key: req.wire() })
                            }
                            MSession::Running { key, .. } => self.send(
                                fx,
                                ClientFrame::ResumeSession {
                                    sessionkey: key.clone(),
                                },
                            ),
                            MSession::Ending(_) => {
                                self.send(fx, ClientFrame::EndSession {});
                                self.arm(T::SessionEnd, END_TIMEOUT);
                            }
                        }
                        if r.presence == MPresence::AwaitingLink {
                            self.presence_connect(fx, 0);
                        }
                        if self.background && r.session != MSession::Idle {
                            self.send(fx, ClientFrame::AppState { foreground: false });
                        }
                    }
                    MPhase::Uninitialized | MPhase::Terminated => {}
                }
            }
        }
    }

    // §5.5
    fn timeout(&mut self, fx: &mut Fx) {
        while let Some((&t, _)) = self
            .timers
            .iter()
            .filter(|(_, d)| **d <= self.now)
            .min_by_key(|(t, d)| (**d, **t))
        {
            self.timers.remove(&t);
            self.fire(t, fx);
        }
    }

    fn fire(&mut self, t: T, fx: &mut Fx) {
        let down = self.link_down;
        if t == T::Reconnect {
            if let Some(a) = down {
                fx.rows.push(Row::ST08);
                fx.out.push(Output::Connect);
                self.link_down = Some(a + 1);
                self.arm(T::Reconnect, backoff(RECONNECT_BACKOFF, a + 1));
            }
            return;
        }
        if let (T::InitLookup, MPhase::Initializing(v)) = (t, &self.phase) {
            fx.rows.push(Row::ST01);
            self.phase = MPhase::Ready(MReady {
                visitor: v.clone(),
                key_length: DEFAULT_KEY_LENGTH,
                loaded: false,
                lookup_pending: false,
                reattaching: false,
                session: MSession::Idle,
                presence: MPresence::Off,
            });
            fx.event(Event::VisitorInitialized {
                settings_loaded: false,
            });
            return;
        }
        let background = self.background;
        let MPhase::Ready(r) = &mut self.phase else {
            return;
        };
        match (t, &r.session, &r.presence) {
            (T::InitLookup, _, _) if r.lookup_pending => {
                fx.rows.push(Row::ST02);
                r.lookup_pending = false;
                fx.event(Event::VisitorInitialized {
                    settings_loaded: false,
                });
            }
            (T::SessionStart, MSession::Starting(_), _) => {
                fx.rows.push(Row::ST03);
                r.session = MSession::Idle;
                // §5.5: timers are disarmed with their state (session_grace, if the link is down)
                self.disarm(T::SessionGrace);
                self.send(fx, ClientFrame::EndSession {});
                fx.event(Event::StartSessionFailed {
                    reason: "timeout".into(),
                });
            }
            // S-T04b: offline the end_session frame never went out; S-N02 sends it again, or
            // S-T05b ends the session
            (T::SessionEnd, MSession::Ending(_), _) if down.is_some() => {
                fx.rows.push(Row::ST04b);
                if !self.timers.contains_key(&T::SessionGrace) {
                    self.arm(T::SessionGrace, SESSION_GRACE);
                }
            }
            (T::SessionEnd, MSession::Ending(_), _) => {
                fx.rows.push(Row::ST04);
                r.session = MSession::Idle;
                self.disarm(T::SessionGrace);
                fx.event(Event::SessionEnded {
                    reason: "visitor_ended".into(),
                });
            }
            (T::SessionGrace, MSession::Starting(_), _) if down.is_some() => {
                fx.rows.push(Row::ST05a);
                r.session = MSession::Idle;
                self.disarm(T::SessionStart);
                fx.event(Event::StartSessionFailed {
                    reason: "connection_lost".into(),
                });
            }
            (T::SessionGrace, MSession::Running { .. } | MSession::Ending(_), _)
                if down.is_some() =>
            {
                fx.rows.push(Row::ST05b);
                r.session = MSession::Idle;
                self.disarm(T::SessionEnd);
                fx.event(Event::SessionEnded {
                    reason: "connection_lost".into(),
                });
            }
            (T::PresenceConnect, _, MPresence::Connecting(a)) => {
                fx.rows.push(Row::ST06a);
                let a = *a;
                self.presence_failed(fx, a, "timeout".into());
            }
            (T::PresenceRetry, _, MPresence::RetryWait(a)) => {
                fx.rows.push(Row::ST06b);
                let a = *a;
                self.presence_connect(fx, a);
            }
            // a request never displayed goes with the suspension (S-T07)
            (
                T::PresenceSuspend,
                _,
                MPresence::Connected(MTerms::None | MTerms::Shown(_)) | MPresence::Blurred,
            ) if background => {
                fx.rows.push(Row::ST07);
                r.presence = MPresence::Suspended;
                self.send(fx, ClientFrame::PresenceDisconnect {});
            }
            // one on the customer's screen keeps presence up: ask again later (S-T07b)
            (
                T::PresenceSuspend,
                _,
                MPresence::Connected(MTerms::Displayed(_) | MTerms::Accepted(_)),
            ) if background => {
                fx.rows.push(Row::ST07b);
                self.arm(T::PresenceSuspend, BACKGROUND_SUSPEND);
            }
            // a timer whose row's state no longer holds does nothing
            _ => {}
        }
    }
}

// ---- the integration controller, §4.2 and §6 --------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum COrigin {
    Manual,
    OneClick,
    External(KeyType),
}

impl COrigin {
    /// C-E10: the key is shown unless the origin is one_click or external(visitor_id).
    fn shows_key(self) -> bool {
        !matches!(
            self,
            COrigin::OneClick | COrigin::External(KeyType::VisitorId)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CIdentity {
    Anonymous,
    LoggingIn(String),
    LoggedIn(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CPresence {
    Off,
    Connecting,
    Connected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CSession {
    None,
    Starting(COrigin),
    Running(COrigin),
    /// `connected`: the session had connected (it was running when ended).
    Ending(COrigin, bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CApp {
    pub initialized: bool,
    pub identity: CIdentity,
    pub presence: CPresence,
    pub session: CSession,
    pub terms_shown: bool,
    pub button_shown: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CPhase {
    NotLaunched,
    Running(CApp),
    Exited,
}

/// The controller (§4.2) with its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MCtl {
    pub phase: CPhase,
    pub group_id: u32,
    pub custom_ui: bool,
}

/// What one controller input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlStep {
    pub next: MCtl,
    pub result: Result<(), Code>,
    pub out: Vec<ControllerOutput>,
    pub rows: Rows,
}

fn call(c: ApiCall) -> ControllerOutput {
    ControllerOutput::Call(c)
}

fn show(element: UiElement) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::Show { element, key: None })
}

fn hide(element: UiElement) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::Hide { element })
}

fn terms(status: &str) -> ControllerOutput {
    call(ApiCall::PresenceSignalAgent {
        event: "terms".into(),
        map: [("status".to_owned(), status.to_owned())].into(),
    })
}

/// C-E12 / C-U60: if the session had connected (running, or ending after running), hide its
/// key (if its origin shows the key) and its indicator.
fn hide_session(session: CSession, out: &mut Vec<ControllerOutput>) {
    if let CSession::Running(o) | CSession::Ending(o, true) = session {
        if o.shows_key() {
            out.push(hide(UiElement::SessionKey));
        }
        out.push(hide(UiElement::SessionIndicator));
    }
}

/// §6 `offer`: show the button if initialized, button not shown, terms not shown and
/// session=none.
fn offer(app: &mut CApp, out: &mut Vec<ControllerOutput>) {
    if app.initialized && !app.button_shown && !app.terms_shown && app.session == CSession::None {
        app.button_shown = true;
        out.push(show(UiElement::CobrowseButton));
    }
}

impl MCtl {
    pub fn new(group_id: u32, custom_ui: bool) -> Self {
        MCtl {
            phase: CPhase::NotLaunched,
            group_id,
            custom_ui,
        }
    }

    pub fn app(&self) -> Option<&CApp> {
        match &self.phase {
            CPhase::Running(a) => Some(a),
            _ => None,
        }
    }

    pub fn user(&self, intent: &UserIntent) -> CtlStep {
        let mut next = self.clone();
        let mut out = vec![];
        let mut rows = vec![];
        let result = next.user_mut(intent, &mut out, &mut rows);
        if result.is_err() {
            return CtlStep {
                next: self.clone(),
                result,
                out: vec![],
                rows,
            };
        }
        CtlStep {
            next,
            result,
            out,
            rows,
        }
    }

    fn user_mut(
        &mut self,
        intent: &UserIntent,
        out: &mut Vec<ControllerOutput>,
        rows: &mut Rows,
    ) -> Result<(), Code> {
        let group = self.group_id;
        let app = match (&mut self.phase, intent) {
            (CPhase::NotLaunched, UserIntent::Launch) => {
                rows.push(Row::CU01);
                self.phase = CPhase::Running(CApp {
                    initialized: false,
                    identity: CIdentity::Anonymous,
                    presence: CPresence::Off,
                    session: CSession::None,
                    terms_shown: false,
                    button_shown: false,
                });
                out.push(call(ApiCall::InitVisitor(InitParams::anonymous(group))));
                return Ok(());
            }
            (CPhase::Running(_), UserIntent::Launch) => {
                rows.push(Row::CU02);
                return Err(ErrorCode::AlreadyLaunched);
            }
            (CPhase::Exited, _) => {
                rows.push(Row::CU03);
                return Err(ErrorCode::Exited);
            }
            (CPhase::NotLaunched, _) => {
                rows.push(Row::CU04);
                return Err(ErrorCode::NotLaunched);
            }
            (CPhase::Running(app), _) => app,
        };
        match intent {
            UserIntent::Launch => unreachable!(),
            UserIntent::TapCobrowse => {
                if !(app.button_shown && app.session == CSession::None) {
                    rows.push(Row::CU11);
                    return Err(ErrorCode::ButtonNotShown);
                }
                rows.push(Row::CU10);
                app.session = CSession::Starting(COrigin::Manual);
                app.button_shown = false;
                out.push(hide(UiElement::CobrowseButton));
                out.push(call(ApiCall::StartSession {
                    key: StartKey::Random,
                }));
            }
            UserIntent::Login { visitor_id } => {
                if !visitor_id_ok(visitor_id) {
                    rows.push(Row::CU21);
                    return Err(ErrorCode::InvalidParameter);
                }
                if app.identity != CIdentity::Anonymous {
                    rows.push(Row::CU22);
                    return Err(ErrorCode::AlreadyLoggedIn);
                }
                rows.push(Row::CU20);
                app.identity = CIdentity::LoggingIn(visitor_id.clone());
                out.push(call(ApiCall::InitVisitor(InitParams::identified(
                    group,
                    visitor_id.clone(),
                ))));
            }
            UserIntent::AcceptTerms | UserIntent::DeclineTerms if !app.terms_shown => {
                rows.push(Row::CU32);
                return Err(ErrorCode::NoTermsShown);
            }
            UserIntent::AcceptTerms => {
                rows.push(Row::CU30);
                app.terms_shown = false;
                app.session = CSession::Starting(COrigin::OneClick);
                out.push(hide(UiElement::Terms));
                out.push(terms("accepted"));
                out.push(call(ApiCall::StartSession {
                    key: StartKey::VisitorId,
                }));
            }
            UserIntent::DeclineTerms => {
                rows.push(Row::CU31);
                app.terms_shown = false;
                out.push(hide(UiElement::Terms));
                out.push(terms("declined"));
                offer(app, out);
            }
            UserIntent::EndSession => match app.session {
                CSession::Starting(o) | CSession::Running(o) => {
                    rows.push(Row::CU40);
                    let connected = matches!(app.session, CSession::Running(_));
                    app.session = CSession::Ending(o, connected);
                    out.push(call(ApiCall::EndSession));
                }
                CSession::None | CSession::Ending(..) => {
                    rows.push(Row::CU41);
                    return Err(ErrorCode::NoSession);
                }
            },
            UserIntent::Logout => {
                if app.identity == CIdentity::Anonymous {
                    rows.push(Row::CU51);
                    return Err(ErrorCode::NotLoggedIn);
                }
                rows.push(Row::CU50);
                if app.presence != CPresence::Off {
                    out.push(call(ApiCall::PresenceDisconnect));
                }
                app.presence = CPresence::Off;
                if app.terms_shown {
                    app.terms_shown = false;
                    out.push(hide(UiElement::Terms));
                }
                offer(app, out);
                app.identity = CIdentity::Anonymous;
                out.push(call(ApiCall::InitVisitor(InitParams::anonymous(group))));
            }
            UserIntent::Exit => {
                rows.push(Row::CU60);
                if app.presence != CPresence::Off {
                    out.push(call(ApiCall::PresenceDisconnect));
                }
                // ui:hide of every shown element
                if app.button_shown {
                    out.push(hide(UiElement::CobrowseButton));
                }
                if app.terms_shown {
                    out.push(hide(UiElement::Terms));
                }
                hide_session(app.session, out);
                self.phase = CPhase::Exited;
            }
        }
        Ok(())
    }

    pub fn lifecycle(&self) -> CtlStep {
        CtlStep {
            next: self.clone(),
            result: Ok(()),
            out: vec![],
            rows: vec![Row::CL01],
        }
    }

    pub fn event(&self, e: &Event) -> CtlStep {
        let mut next = self.clone();
        let mut out = vec![];
        let mut rows = vec![];
        next.event_mut(e, &mut out, &mut rows);
        CtlStep {
            next,
            result: Ok(()),
            out,
            rows,
        }
    }

    fn event_mut(&mut self, e: &Event, out: &mut Vec<ControllerOutput>, rows: &mut Rows) {
        let custom_ui = self.custom_ui;
        let CPhase::Running(app) = &mut self.phase else {
            rows.push(Row::CE99);
            return;
        };
        match e {
            Event::VisitorInitialized { .. } => {
                if !app.initialized {
                    rows.push(Row::CE01);
                    app.initialized = true;
                    if custom_ui {
                        out.push(call(ApiCall::SetDefaultUi { enabled: false }));
                    }
                    offer(app, out);
                }
                if let CIdentity::LoggingIn(id) = &app.identity {
                    rows.push(Row::CE02);
                    app.identity = CIdentity::LoggedIn(id.clone());
                    // presence=connecting if off, with its two calls
                    if app.presence == CPresence::Off {
                        app.presence = CPresence::Connecting;
                        out.push(call(ApiCall::PresenceConnect));
                        if custom_ui {
                            out.push(call(ApiCall::PresenceSetDefaultUi { enabled: false }));
                        }
                    }
                }
                if rows.is_empty() {
                    rows.push(Row::CE40);
                }
            }
            Event::ConnectedToSession {
                sessionkey,
                keytype,
            } => {
                rows.push(Row::CE10);
                let origin = match app.session {
                    CSession::Starting(o) => o,
                    _ => COrigin::External(*keytype),
                };
                app.session = CSession::Running(origin);
                if app.button_shown {
                    app.button_shown = false;
                    out.push(hide(UiElement::CobrowseButton));
                }
                out.push(show(UiElement::SessionIndicator));
                if origin.shows_key() {
                    out.push(ControllerOutput::Ui(UiDirective::Show {
                        element: UiElement::SessionKey,
                        key: Some(sessionkey.clone()),
                    }));
                }
            }
            Event::StartSessionFailed { .. } => {
                rows.push(Row::CE11);
                app.session = CSession::None;
                offer(app, out);
            }
            Event::SessionEnded { .. } => {
                rows.push(Row::CE12);
                hide_session(app.session, out);
                app.session = CSession::None;
                offer(app, out);
            }
            Event::PresenceConnected => {
                rows.push(Row::CE20);
                app.presence = CPresence::Connected;
            }
            Event::PresenceShowTerms { .. }
                if app.presence != CPresence::Off && app.session == CSession::None =>
            {
                rows.push(Row::CE22);
                if !app.terms_shown {
                    app.terms_shown = true;
                    if app.button_shown {
                        app.button_shown = false;
                        out.push(hide(UiElement::CobrowseButton));
                    }
                    out.push(show(UiElement::Terms));
                }
                out.push(terms("displayed"));
            }
            Event::PresenceDisconnected | Event::PresenceBlur | Event::ConnectionWarning => {
                match e {
                    Event::PresenceDisconnected => {
                        rows.push(Row::CE23);
                        app.presence = CPresence::Off;
                    }
                    Event::PresenceBlur => rows.push(Row::CE24),
                    _ => rows.push(Row::CE25),
                }
                if app.terms_shown {
                    app.terms_shown = false;
                    out.push(hide(UiElement::Terms));
                }
                offer(app, out);
            }
            Event::InvalidState {
                call: CallName::StartSession,
                ..
            }
            | Event::InvalidParameter {
                call: CallName::StartSession,
                ..
            } if matches!(
                app.session,
                CSession::Starting(COrigin::Manual | COrigin::OneClick)
            ) =>
            {
                rows.push(Row::CE30);
                app.session = CSession::None;
                offer(app, out);
            }
            _ => rows.push(Row::CE40),
        }
    }
}

// ---- the simulated server, §13 ----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MSrvSession {
    pub key: String,
    pub guests: u32,
    /// The guest count the visitor was last told.
    pub told: u32,
}

/// The simulated service for one visitor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MServer {
    pub group_id: u32,
    pub visitor_id: Option<String>,
    pub session: Option<MSrvSession>,
    pub presence: bool,
    pub last_request: u64,
    pub offline_since: Option<u64>,
    /// Random keys issued so far; the model's n-th random key is `n` in 4 digits (the real
    /// server draws them from the seed; comparisons treat every 4-digit key as one).
    pub keys_issued: u64,
    /// The current connection's `init` (§13: every connection starts with one).
    pub announced: Option<Option<String>>,
    /// A session the agent ended while the visitor was offline: its key and reason.
    pub ended_offline: Option<(String, String)>,
    pub out: VecDeque<ServerFrame>,
}

impl MServer {
    pub fn new(group_id: u32) -> Self {
        MServer {
            group_id,
            visitor_id: None,
            session: None,
            presence: false,
            last_request: 0,
            offline_since: None,
            keys_issued: 0,
            announced: None,
            ended_offline: None,
            out: VecDeque::new(),
        }
    }

    /// A frame for the visitor; lost while it is offline.
    fn reply(&mut self, f: ServerFrame) {
        if self.offline_since.is_none() {
            self.out.push_back(f);
        }
    }

    pub fn receive(&mut self, f: &ClientFrame) {
        if let ClientFrame::Init {
            group_id,
            visitor_id,
            ..
        } = f
        {
            self.visitor_id = visitor_id.clone();
            self.announced = Some(visitor_id.clone());
            let answer = if *group_id == self.group_id {
                ServerFrame::Settings {
                    v: 1,
                    key_length: SIM_KEY_LENGTH,
                }
            } else {
                ServerFrame::InitFailed {
                    reason: "unknown_group".into(),
                }
            };
            self.reply(answer);
            return;
        }
        // a connection that has not identified itself is refused
        let Some(announced) = self.announced.clone() else {
            match f {
                ClientFrame::StartSession { .. } => self.reply(ServerFrame::SessionRefused {
                    reason: "unknown_visitor".into(),
                }),
                ClientFrame::PresenceConnect { .. } => {
                    self.reply(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    })
                }
                _ => {}
            }
            return;
        };
        match f {
            ClientFrame::Init { .. } => {}
            ClientFrame::StartSession { key } => {
                let answer = match (&self.session, key) {
                    // a start sent again after a reconnect: the same session
                    (Some(s), None) => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(s), Some(k)) if *k == s.key => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(_), Some(_)) => ServerFrame::SessionRefused {
                        reason: "session_exists".into(),
                    },
                    (None, k) => {
                        let key = k.clone().unwrap_or_else(|| {
                            self.keys_issued += 1;
                            format!("{:04}", self.keys_issued % 10_000)
                        });
                        self.ended_offline = None;
                        self.session = Some(MSrvSession {
                            key: key.clone(),
                            guests: 0,
                            told: 0,
                        });
                        ServerFrame::SessionStarted { sessionkey: key }
                    }
                };
                self.reply(answer);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.reply(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => match &mut self.session {
                // what the visitor missed while offline
                Some(s) if s.key == *sessionkey => {
                    s.told = s.guests;
                    let guestcount = s.guests;
                    self.reply(ServerFrame::GuestCount { guestcount });
                }
                _ => {
                    let reason = match self.ended_offline.take() {
                        Some((key, reason)) if key == *sessionkey => reason,
                        _ => "expired".into(),
                    };
                    self.reply(ServerFrame::SessionEnded { reason });
                }
            },
            ClientFrame::PresenceConnect { visitor_id } => {
                if announced.as_ref() == Some(visitor_id) {
                    self.presence = true;
                    self.reply(ServerFrame::PresenceConnected {});
                } else {
                    self.reply(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence = false,
            ClientFrame::PresenceSignal { .. } | ClientFrame::AppState { .. } => {}
        }
    }

    pub fn lost(&mut self, now: u64) {
        self.presence = false;
        self.announced = None;
        if self.offline_since.is_none() {
            self.offline_since = Some(now);
        }
    }

    pub fn restored(&mut self, now: u64) {
        self.announced = None;
        if let Some(since) = self.offline_since.take() {
            if now - since >= SESSION_GRACE {
                self.session = None;
            }
        }
    }

    pub fn agent(&mut self, a: AgentAction) -> Result<(), &'static str> {
        match a {
            AgentAction::Join | AgentAction::Leave => {
                let online = self.offline_since.is_none();
                let s = self.session.as_mut().ok_or("no_session")?;
                if a == AgentAction::Join {
                    s.guests += 1;
                } else if s.guests == 0 {
                    return Err("no_agent_in_session");
                } else {
                    s.guests -= 1;
                }
                if online {
                    s.told = s.guests;
                    let guestcount = s.guests;
                    self.reply(ServerFrame::GuestCount { guestcount });
                }
            }
            AgentAction::StartPresenceSession => {
                if !self.presence {
                    return Err("visitor_not_present");
                }
                self.last_request += 1;
                let request_id = self.last_request;
                self.reply(ServerFrame::PresenceShowTerms { request_id });
            }
            AgentAction::EndSession => {
                let ended = self.session.take().ok_or("no_session")?;
                if self.offline_since.is_none() {
                    self.reply(ServerFrame::SessionEnded {
                        reason: "agent_ended".into(),
                    });
                } else {
                    self.ended_offline = Some((ended.key, "agent_ended".into()));
                }
            }
        }
        Ok(())
    }
}

// ---- the world: scenario steps, §13 -----------------------------------------------------------

/// The whole world as a contract scenario sees it.
#[derive(Clone, Debug)]
pub struct MWorld {
    pub sdk: MSdk,
    sdk_out: VecDeque<Output>,
    pub ctl: MCtl,
    ctl_out: VecDeque<ControllerOutput>,
    pub server: MServer,
    pub now: u64,
    pub network_up: bool,
    step: usize,
    /// The records of the last step.
    pub records: Vec<Observed>,
}

impl MWorld {
    pub fn new(group_id: u32, custom_ui: bool) -> Self {
        MWorld {
            sdk: MSdk::default(),
            sdk_out: VecDeque::new(),
            ctl: MCtl::new(group_id, custom_ui),
            ctl_out: VecDeque::new(),
            server: MServer::new(group_id),
            now: 0,
            network_up: true,
            step: 0,
            records: vec![],
        }
    }

    fn record(&mut self, o: Observed) {
        self.records.push(o);
    }

    fn refuse(&mut self, code: &str) {
        self.record(Observed::Error(ErrorRecord {
            code: code.to_owned(),
            message: String::new(),
        }));
    }

    fn sdk_input(&mut self, input: Input) {
        let s = self.sdk.input(self.now, &input);
        self.sdk = s.next;
        self.sdk_out.extend(s.out);
        if let Err(code) = s.result {
            self.refuse(code.as_str());
        }
    }

    fn call_sdk(&mut self, c: ApiCall) {
        self.record(Observed::Api(c.clone()));
        self.sdk_input(Input::Api(c));
    }

    /// Plays scenario line `index`, then lets the world settle. Returns its records.
    pub fn apply(&mut self, index: usize, step: &Step) {
        self.step = index;
        self.records.clear();
        match step {
            Step::Config(_) => {
                if index != 0 {
                    self.refuse("config_not_first");
                }
            }
            Step::User(intent) => {
                let s = self.ctl.user(intent);
                self.ctl = s.next;
                self.ctl_out.extend(s.out);
                match s.result {
                    Err(code) => self.refuse(code.as_str()),
                    Ok(()) if *intent == UserIntent::Exit => {
                        // the host feeds Terminate after the controller's calls (C-U60)
                        self.settle();
                        self.sdk_input(Input::Lifecycle(Lifecycle::Terminate));
                    }
                    Ok(()) => {}
                }
            }
            Step::Lifecycle(l) => {
                self.sdk_input(Input::Lifecycle(*l));
                self.ctl = self.ctl.lifecycle().next;
            }
            Step::Network(NetworkChange::Lost) => {
                if self.network_up {
                    self.network_up = false;
                    self.server.lost(self.now);
                }
                self.sdk_input(Input::Network(NetworkChange::Lost));
            }
            Step::Network(NetworkChange::Restored) => {
                if !self.network_up {
                    self.network_up = true;
                    self.server.restored(self.now);
                }
                self.sdk_input(Input::Network(NetworkChange::Restored));
            }
            Step::Agent(a) => {
                if let Err(code) = self.server.agent(*a) {
                    self.refuse(code);
                }
            }
            Step::AdvanceMs(ms) => {
                let target = self.now.saturating_add(*ms);
                self.settle();
                while let Some(t) = self.sdk.next_deadline().filter(|t| *t <= target) {
                    self.now = self.now.max(t);
                    self.sdk_input(Input::Timeout);
                    self.settle();
                }
                self.now = target;
            }
            Step::Api(c) => self.call_sdk(c.clone()),
        }
        self.settle();
    }

    /// Delivers everything until nothing moves: the SDK's outputs first (the single-mutation
    /// rule), then the controller's, then one frame from the server.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if let Some(o) = self.sdk_out.pop_front() {
                match o {
                    Output::Event(e) => {
                        self.record(Observed::Event(EventRecord::from(&e)));
                        let s = self.ctl.event(&e);
                        self.ctl = s.next;
                        self.ctl_out.extend(s.out);
                    }
                    Output::Transmit(f) => {
                        self.record(Observed::Send(
                            serde_json::to_value(&f).expect("frames serialize"),
                        ));
                        if self.network_up {
                            self.server.receive(&f);
                        }
                    }
                    Output::Connect => {
                        if self.network_up {
                            self.sdk_input(Input::Network(NetworkChange::Restored));
                        }
                    }
                    Output::Timeout(_) => unreachable!("the model queues no Timeout"),
                }
                continue;
            }
            if self.sdk.next_deadline().is_some_and(|t| t <= self.now) {
                self.sdk_input(Input::Timeout);
                continue;
            }
            if let Some(o) = self.ctl_out.pop_front() {
                match o {
                    ControllerOutput::Call(c) => self.call_sdk(c),
                    ControllerOutput::Ui(u) => self.record(Observed::Ui(u)),
                }
                continue;
            }
            if let Some(f) = self.server.out.pop_front() {
                if self.network_up {
                    self.record(Observed::Recv(
                        serde_json::to_value(&f).expect("frames serialize"),
                    ));
                    self.sdk_input(Input::Frame(f));
                }
                continue;
            }
            return;
        }
        panic!("the model's world never settles");
    }

    pub fn step_index(&self) -> usize {
        self.step
    }
}
