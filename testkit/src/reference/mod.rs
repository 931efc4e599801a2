//! The reference model, written from spec.md alone (Firezone connlib's `reference.rs`
//! pattern): what must be observable, not how the crate computes it.
//!
//! | file | spec.md | what it models |
//! | --- | --- | --- |
//! | this file | §4, §7 | the state the harness compares (`MSdk`, `MCtl`, …), the timer defaults |
//! | `sdk` | §2, §5 | the SDK core as five row tables (API calls, frames, lifecycle, network, timers): each row an id, a guard and an effect, in the order of the spec's rows |
//! | `controller` | §6 | the integration controller as two row tables (user intents, SDK events) |
//! | `service` | §13 | the simulated service: what it believes about the visitor |
//! | `world` | §13, contract "Scenario" | a scenario step settled: the records the transcript must show |
//!
//! The model never calls into the crate's machines; it uses only the crate's value types
//! (inputs, outputs, frames, events, rows, error codes) and their field rules (§3.3, §8.3),
//! which are data, not behaviour.

use cobrowse_visitor_core::{
    ConsentPolicy, ErrorCode, InitParams, KeyType, Limits, Row, StartOptions,
};
use std::collections::BTreeMap;

mod controller;
mod restore;
mod sdk;
mod service;
mod world;

pub use service::{MServer, MSrvSession};
pub use world::MWorld;

/// The spec rows one input went through (`last_rows()`).
pub type Rows = Vec<Row>;
/// An input's refusal, as the error's code (§9).
pub type Code = ErrorCode;

// ---- §7 timers and defaults -------------------------------------------------------------------

pub const INIT_TIMEOUT: u64 = 10_000;
pub const START_TIMEOUT: u64 = 15_000;
pub const END_TIMEOUT: u64 = 5_000;
pub const SESSION_GRACE: u64 = 60_000;
pub const PRESENCE_CONNECT_TIMEOUT: u64 = 10_000;
/// `presence_retry`: 1 s · 2^attempt, at most 30 s.
pub const PRESENCE_BACKOFF: (u64, u64) = (1_000, 30_000);
/// `reconnect`: 1 s · 2^attempt, at most 16 s.
pub const RECONNECT_BACKOFF: (u64, u64) = (1_000, 16_000);
pub const BACKGROUND_SUSPEND: u64 = 60_000;
/// §4.1: the settings before (or without) a lookup.
pub const DEFAULT_KEY_LENGTH: u8 = 4;
/// §13: the simulated service's random keys have 4 digits.
pub const SIM_KEY_LENGTH: u8 = 4;

/// §7: `base · 2^attempt`, at most `max`.
pub fn backoff((base, max): (u64, u64), attempt: u32) -> u64 {
    base.saturating_mul(1u64.checked_shl(attempt).unwrap_or(u64::MAX))
        .min(max)
}

/// The timers of §7, in §7's order (the tie order of §5.5).
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

impl T {
    /// `presence_*` (S-A60, S-N01).
    pub const PRESENCE: [T; 3] = [T::PresenceConnect, T::PresenceRetry, T::PresenceSuspend];
}

// ---- §3.3 field rules -------------------------------------------------------------------------

/// §3.3 / §3.3a: `visitor_id` under the default limits (`glance5`): 1–62 characters of
/// `[A-Za-z0-9-_~]`. The controller judges a `login` id by this profile (§3.3a).
pub fn visitor_id_ok(id: &str) -> bool {
    visitor_id_ok_under(Limits::Glance5, id)
}

/// §3.3a's table, read as written: `glance5` 1–62 characters of `[A-Za-z0-9-_~]`;
/// `glance_core` 1–100 of the same; `web_compatible` 1–50 of `[A-Za-z0-9-_]` (no `~`).
/// Written from the table, not through `Limits`' methods: the profile names are data, the
/// numbers are the spec's.
pub fn visitor_id_ok_under(limits: Limits, id: &str) -> bool {
    let (most, tilde) = match limits {
        Limits::Glance5 => (62, true),
        Limits::GlanceCore => (100, true),
        Limits::WebCompatible => (50, false),
    };
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (tilde && c == '~');
    (1..=most).contains(&id.chars().count()) && id.chars().all(allowed)
}

/// §3.3a: the part of `SdkConfig` the rows read besides the timer durations (which the model
/// takes at §7's defaults): the consent policy and the limits profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MConfig {
    /// §3.3a `consent_policy`: whether S-F25 can grant a start (default `terms_required`).
    pub consent_policy: ConsentPolicy,
    /// §3.3a `limits`: the profile S-A06 judges a visitor id by (default `glance5`).
    pub limits: Limits,
}

impl MConfig {
    /// Every combination of §3.3a's two fields (2 policies × 3 profiles).
    pub fn all() -> Vec<MConfig> {
        let mut v = vec![];
        for consent_policy in [ConsentPolicy::TermsRequired, ConsentPolicy::AgentMayStart] {
            for limits in [Limits::Glance5, Limits::GlanceCore, Limits::WebCompatible] {
                v.push(MConfig {
                    consent_policy,
                    limits,
                });
            }
        }
        v
    }

    /// The crate's `SdkConfig` with §7's durations and these two fields.
    pub fn sdk_config(self) -> cobrowse_visitor_core::SdkConfig {
        cobrowse_visitor_core::SdkConfig {
            consent_policy: self.consent_policy,
            limits: self.limits,
            ..cobrowse_visitor_core::SdkConfig::default()
        }
    }
}

/// §3.3: a custom key is 1–63 characters of `[A-Za-z0-9-_]`, not `GLANCE_KEYTYPE_RANDOM`.
pub fn custom_key_ok(k: &str) -> bool {
    cobrowse_visitor_core::validate_session_key(k).is_ok()
}

// ---- §4.1 the SDK core's state ----------------------------------------------------------------

/// §4.1 `phase`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MPhase {
    Uninitialized,
    Initializing(InitParams),
    Ready(MReady),
    Terminated,
}

/// §4.1 `Ready`: what exists only after the first `EventVisitorInitialized`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MReady {
    pub visitor: InitParams,
    pub key_length: u8,
    pub loaded: bool,
    /// `lookup = pending`: a re-init's lookup is in flight (S-A04).
    pub lookup_pending: bool,
    /// `lookup = reattaching`: `init` re-sent on a new link, its answer silent (S-N02).
    pub reattaching: bool,
    pub session: MSession,
    pub presence: MPresence,
    /// `settings.agent_start` (§4.1; false by default and after a failed lookup).
    pub agent_start: bool,
    /// `max_attempts`: `None` forever, else n ≥ 1 (S-A40, S-A43).
    pub max_attempts: Option<u32>,
    /// `presence_data`: the merged map (S-A80; emptied by S-A04 with a new visitor id).
    pub presence_data: BTreeMap<String, String>,
}

/// §4.1 `request`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MRequest {
    Random,
    VisitorId(String),
    Custom(String),
}

impl MRequest {
    /// §4.1: the `keytype` a request starts.
    pub fn keytype(&self) -> KeyType {
        match self {
            MRequest::Random => KeyType::Random,
            MRequest::VisitorId(_) => KeyType::VisitorId,
            MRequest::Custom(_) => KeyType::Custom,
        }
    }

    /// §8.1 `start_session.key`: null for random, else the visitor id or custom key.
    pub fn wire_key(&self) -> Option<String> {
        match self {
            MRequest::Random => None,
            MRequest::VisitorId(k) | MRequest::Custom(k) => Some(k.clone()),
        }
    }
}

/// §4.1 `session`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MSession {
    Idle,
    /// `starting{request, options}` (S-A20): the options are re-sent with the start (S-N02).
    Starting(MRequest, StartOptions),
    Running {
        key: String,
        keytype: KeyType,
        guests: u32,
        /// `paused` (S-F10: the start's option; S-A100; re-sent by S-N02).
        paused: bool,
        /// `user_state`, merged (S-A120; re-sent whole by S-N02).
        user_state: BTreeMap<String, String>,
        /// The start's `persist` (S-F10; §5.6 keeps only such a session).
        persist: bool,
    },
    Ending(KeyType),
}

/// §4.1 `terms` (only inside `connected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MTerms {
    None,
    Shown(u64),
    Displayed(u64),
    Accepted(u64),
    /// `agent_start {request_id}`: the grant of S-F25.
    AgentStart(u64),
}

/// §4.1 `presence`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MPresence {
    Off,
    AwaitingLink,
    Connecting(u32),
    RetryWait(u32),
    Connected(MTerms),
    Blurred,
    Suspended,
    /// `not_configured` (S-F27): no connect until a re-init (S-A46, S-A04).
    NotConfigured,
}

/// §4.1 `State`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MSdk {
    pub phase: MPhase,
    /// `link`: `None` is `up`, `Some(attempt)` is `down {attempt}`.
    pub link_down: Option<u32>,
    /// `app = background`.
    pub background: bool,
    pub default_ui: bool,
    pub presence_default_ui: bool,
    /// The armed timers and their deadlines (ms).
    pub timers: BTreeMap<T, u64>,
    /// The time of the last accepted input (ms).
    pub now: u64,
    /// The configuration the rows read (§3.3a); fixed for the core's life.
    pub cfg: MConfig,
}

impl Default for MSdk {
    /// §3.2 / §4.1: a new core is uninitialized, believes the link is up, is in the
    /// foreground with both default UIs on and no timer armed.
    fn default() -> Self {
        MSdk {
            phase: MPhase::Uninitialized,
            link_down: None,
            background: false,
            default_ui: true,
            presence_default_ui: true,
            timers: BTreeMap::new(),
            now: 0,
            cfg: MConfig::default(),
        }
    }
}

impl MSdk {
    /// A new core (as [`Default`]) under `cfg`.
    pub fn with_config(cfg: MConfig) -> Self {
        MSdk {
            cfg,
            ..MSdk::default()
        }
    }

    pub fn ready(&self) -> Option<&MReady> {
        match &self.phase {
            MPhase::Ready(r) => Some(r),
            _ => None,
        }
    }

    /// §2: the deadline of the drain's `Timeout` — the earliest armed timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.values().min().copied()
    }
}

/// What one SDK input must do: the state after it, its result, its outputs (the drain up to
/// `Timeout`), and the rows it went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkStep {
    pub next: MSdk,
    pub result: Result<(), Code>,
    pub out: Vec<cobrowse_visitor_core::Output>,
    pub rows: Rows,
}

// ---- §4.2 the controller's state --------------------------------------------------------------

/// §4.2 `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum COrigin {
    Manual,
    OneClick,
    External(KeyType),
}

impl COrigin {
    /// C-E10: the key is shown unless the origin is one-click or an external visitor-id
    /// session (INV-KEY-HIDDEN-PRESENCE).
    pub fn shows_key(self) -> bool {
        !matches!(
            self,
            COrigin::OneClick | COrigin::External(KeyType::VisitorId)
        )
    }
}

/// §4.2 `identity`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CIdentity {
    Anonymous,
    LoggingIn(String),
    LoggedIn(String),
}

/// §4.2 `presence` (the controller's view).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CPresence {
    Off,
    Connecting,
    Connected,
    /// `not_configured` (C-E28).
    NotConfigured,
}

/// §4.2 `session`; `Ending(origin, connected)` remembers whether it had connected (C-U40).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CSession {
    None,
    Starting(COrigin),
    Running(COrigin),
    Ending(COrigin, bool),
}

/// §4.2 `App`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CApp {
    pub initialized: bool,
    pub identity: CIdentity,
    pub presence: CPresence,
    pub session: CSession,
    pub terms_shown: bool,
    pub button_shown: bool,
    /// §4.2 `presence_data`: "the presence data passed to the core for this visitor, merged".
    pub presence_data: std::collections::BTreeMap<String, String>,
    /// §4.2 `paused`: "the running session is paused by `toggle_pause` (`session_paused` is
    /// on screen exactly then)".
    pub paused: bool,
    /// §4.2 `user_state`: "the user state set in the running session, merged […]; emptied
    /// when the session ends".
    pub user_state: std::collections::BTreeMap<String, String>,
}

/// §4.2 `ControllerState`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CPhase {
    NotLaunched,
    Running(CApp),
    Exited,
}

/// The controller with its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MCtl {
    pub phase: CPhase,
    pub group_id: i32,
    pub custom_ui: bool,
    /// `ControllerConfig::limits`: C-U21 judges a login id by them.
    pub limits: Limits,
    /// `ControllerConfig::start`: every `call:start_session` carries them (§6).
    pub start: StartOptions,
}

/// What one controller input must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlStep {
    pub next: MCtl,
    pub result: Result<(), Code>,
    pub out: Vec<cobrowse_visitor_core::ControllerOutput>,
    pub rows: Rows,
}

impl MCtl {
    pub fn new(group_id: i32, custom_ui: bool) -> Self {
        MCtl {
            phase: CPhase::NotLaunched,
            group_id,
            custom_ui,
            limits: Limits::Glance5,
            start: StartOptions::default(),
        }
    }

    pub fn app(&self) -> Option<&CApp> {
        match &self.phase {
            CPhase::Running(a) => Some(a),
            _ => None,
        }
    }
}
