//! # cobrowse-visitor-uniffi
//!
//! The sans-IO cobrowse visitor core for Swift, Kotlin and Python, through UniFFI
//! (proc-macro style). [`Sdk`] and [`Controller`] are objects; every input, output, event,
//! frame, UI directive and configuration is a UniFFI record or enum with the core's names;
//! refusals are typed exceptions ([`SdkError`], [`ControllerError`]) carrying the spec's
//! error code. Time stays an input: every SDK input takes `now_ms`, the caller's monotonic
//! milliseconds. Nothing here reads a clock or opens a socket.
//!
//! The types mirror the core's one for one and convert at the boundary; the core keeps its
//! own dependencies. The only `unsafe` is in the scaffolding UniFFI generates.

use cobrowse_visitor_core as core;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

uniffi::setup_scaffolding!();

/// Defines a fieldless UniFFI enum that mirrors a core enum by its snake_case names.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $word:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        #[allow(missing_docs)]
        pub enum $name { $($variant,)* }

        impl $name {
            /// The spec's snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word,)* }
            }
            /// The value with this spec name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($word => Some($name::$variant),)* _ => None }
            }
        }
    };
}

named_enum! {
    /// Every refusal code (spec.md §9), as `ErrorCode`.
    ErrorCode {
        InvalidParameter = "invalid_parameter",
        GroupIdMismatch = "group_id_mismatch",
        NotInitialized = "not_initialized",
        InitPending = "init_pending",
        Terminated = "terminated",
        SessionActive = "session_active",
        NoSession = "no_session",
        ConsentRequired = "consent_required",
        NoVisitorId = "no_visitor_id",
        PresenceActive = "presence_active",
        PresenceNotConnected = "presence_not_connected",
        VisitorIdChangeWithPresence = "visitor_id_change_with_presence",
        TermsOutOfOrder = "terms_out_of_order",
        UnexpectedFrame = "unexpected_frame",
        KeyMismatch = "key_mismatch",
        KeyNotNumeric = "key_not_numeric",
        MalformedFrame = "malformed_frame",
        FrameTooLarge = "frame_too_large",
        ProtocolVersion = "protocol_version",
        FrameField = "frame_field",
        TimeWentBackwards = "time_went_backwards",
        NotLaunched = "not_launched",
        AlreadyLaunched = "already_launched",
        Exited = "exited",
        ButtonNotShown = "button_not_shown",
        AlreadyLoggedIn = "already_logged_in",
        NotLoggedIn = "not_logged_in",
        NoTermsShown = "no_terms_shown",
        PresenceSendFail = "presence_send_fail",
        PresenceNotConfigured = "presence_not_configured",
        SessionNotRunning = "session_not_running",
    }
}

named_enum! {
    /// An API call's name, as `CallName`.
    CallName {
        InitVisitor = "init_visitor",
        SetDefaultUi = "set_default_ui",
        StartSession = "start_session",
        EndSession = "end_session",
        PresenceConnect = "presence_connect",
        PresenceSetDefaultUi = "presence_set_default_ui",
        PresenceSignalAgent = "presence_signal_agent",
        PresenceDisconnect = "presence_disconnect",
        PresenceData = "presence_data",
        PresenceSignalVisibility = "presence_signal_visibility",
        Pause = "pause",
        SendUserMessage = "send_user_message",
        SetUserState = "set_user_state",
    }
}

named_enum! {
    /// Whether an agent may start a session without the terms dialog, as `ConsentPolicy`
    /// (spec.md §3.3a).
    ConsentPolicy { TermsRequired = "terms_required", AgentMayStart = "agent_may_start", }
}

named_enum! {
    /// The visitor-id limits profile, as `Limits` (spec.md §3.3a).
    Limits { Glance5 = "glance5", GlanceCore = "glance_core", WebCompatible = "web_compatible", }
}

fn consent_policy(p: core::ConsentPolicy) -> ConsentPolicy {
    ConsentPolicy::parse(p.as_str()).unwrap_or(ConsentPolicy::TermsRequired)
}

fn core_consent_policy(p: ConsentPolicy) -> core::ConsentPolicy {
    match p {
        ConsentPolicy::TermsRequired => core::ConsentPolicy::TermsRequired,
        ConsentPolicy::AgentMayStart => core::ConsentPolicy::AgentMayStart,
    }
}

fn limits(l: core::Limits) -> Limits {
    Limits::parse(l.as_str()).unwrap_or(Limits::Glance5)
}

fn core_limits(l: Limits) -> core::Limits {
    core::Limits::parse(l.as_str()).unwrap_or_default()
}

named_enum! {
    /// How a session's key was chosen, as `KeyType`.
    KeyType { Random = "random", VisitorId = "visitor_id", Custom = "custom", }
}

named_enum! {
    /// App lifecycle changes, as `Lifecycle`.
    Lifecycle { Background = "background", Foreground = "foreground", Terminate = "terminate", }
}

named_enum! {
    /// Transport changes, as `NetworkChange`.
    NetworkChange { Lost = "lost", Restored = "restored", }
}

named_enum! {
    /// A UI element, as `UiElement`.
    UiElement {
        CobrowseButton = "cobrowse_button",
        SessionKey = "session_key",
        Terms = "terms",
        SessionIndicator = "session_indicator",
        SessionPaused = "session_paused",
    }
}

fn error_code(c: core::ErrorCode) -> ErrorCode {
    // every core code has a mirror (the test `every_core_code_has_a_mirror` holds it)
    ErrorCode::parse(c.as_str()).unwrap_or(ErrorCode::InvalidParameter)
}

fn call_name(c: core::CallName) -> CallName {
    CallName::parse(c.as_str()).unwrap_or(CallName::InitVisitor)
}

fn core_call_name(c: CallName) -> core::CallName {
    core::CallName::parse(c.as_str()).unwrap_or(core::CallName::InitVisitor)
}

fn core_error_code(c: ErrorCode) -> core::ErrorCode {
    core::ErrorCode::parse(c.as_str()).unwrap_or(core::ErrorCode::InvalidParameter)
}

fn key_type(k: core::KeyType) -> KeyType {
    match k {
        core::KeyType::Random => KeyType::Random,
        core::KeyType::VisitorId => KeyType::VisitorId,
        core::KeyType::Custom => KeyType::Custom,
    }
}

fn core_key_type(k: KeyType) -> core::KeyType {
    match k {
        KeyType::Random => core::KeyType::Random,
        KeyType::VisitorId => core::KeyType::VisitorId,
        KeyType::Custom => core::KeyType::Custom,
    }
}

impl From<Lifecycle> for core::Lifecycle {
    fn from(l: Lifecycle) -> Self {
        match l {
            Lifecycle::Background => core::Lifecycle::Background,
            Lifecycle::Foreground => core::Lifecycle::Foreground,
            Lifecycle::Terminate => core::Lifecycle::Terminate,
        }
    }
}

impl From<NetworkChange> for core::NetworkChange {
    fn from(n: NetworkChange) -> Self {
        match n {
            NetworkChange::Lost => core::NetworkChange::Lost,
            NetworkChange::Restored => core::NetworkChange::Restored,
        }
    }
}

fn ui_element(e: core::UiElement) -> UiElement {
    match e {
        core::UiElement::CobrowseButton => UiElement::CobrowseButton,
        core::UiElement::SessionKey => UiElement::SessionKey,
        core::UiElement::Terms => UiElement::Terms,
        core::UiElement::SessionIndicator => UiElement::SessionIndicator,
        core::UiElement::SessionPaused => UiElement::SessionPaused,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The SDK core's timer durations in milliseconds (`SdkConfig`, spec.md §7).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[allow(missing_docs)]
pub struct SdkConfig {
    pub init_timeout_ms: u64,
    pub start_timeout_ms: u64,
    pub end_timeout_ms: u64,
    pub session_grace_ms: u64,
    pub presence_connect_timeout_ms: u64,
    pub presence_backoff_base_ms: u64,
    pub presence_backoff_max_ms: u64,
    pub reconnect_backoff_base_ms: u64,
    pub reconnect_backoff_max_ms: u64,
    pub background_suspend_ms: u64,
    pub default_key_length: u8,
    pub consent_policy: ConsentPolicy,
    pub limits: Limits,
}

/// The spec's default timer durations.
#[uniffi::export]
pub fn default_sdk_config() -> SdkConfig {
    let c = core::SdkConfig::default();
    SdkConfig {
        init_timeout_ms: ms(c.init_timeout),
        start_timeout_ms: ms(c.start_timeout),
        end_timeout_ms: ms(c.end_timeout),
        session_grace_ms: ms(c.session_grace),
        presence_connect_timeout_ms: ms(c.presence_connect_timeout),
        presence_backoff_base_ms: ms(c.presence_backoff_base),
        presence_backoff_max_ms: ms(c.presence_backoff_max),
        reconnect_backoff_base_ms: ms(c.reconnect_backoff_base),
        reconnect_backoff_max_ms: ms(c.reconnect_backoff_max),
        background_suspend_ms: ms(c.background_suspend),
        default_key_length: c.default_key_length,
        consent_policy: consent_policy(c.consent_policy),
        limits: limits(c.limits),
    }
}

impl From<SdkConfig> for core::SdkConfig {
    fn from(c: SdkConfig) -> Self {
        let d = Duration::from_millis;
        core::SdkConfig {
            init_timeout: d(c.init_timeout_ms),
            start_timeout: d(c.start_timeout_ms),
            end_timeout: d(c.end_timeout_ms),
            session_grace: d(c.session_grace_ms),
            presence_connect_timeout: d(c.presence_connect_timeout_ms),
            presence_backoff_base: d(c.presence_backoff_base_ms),
            presence_backoff_max: d(c.presence_backoff_max_ms),
            reconnect_backoff_base: d(c.reconnect_backoff_base_ms),
            reconnect_backoff_max: d(c.reconnect_backoff_max_ms),
            background_suspend: d(c.background_suspend_ms),
            default_key_length: c.default_key_length,
            consent_policy: core_consent_policy(c.consent_policy),
            limits: core_limits(c.limits),
        }
    }
}

/// How the app is integrated (`ControllerConfig`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ControllerConfig {
    /// The Glance group id every `init_visitor` carries: an `Int32`, as the seed's (Kotlin
    /// `Int`, Swift `Int32`); the core refuses zero and negative ones.
    pub group_id: i32,
    /// The app draws its own UI (the SDK's default UIs off).
    pub custom_ui: bool,
    /// The options every session the controller starts is started with (the defaults when
    /// left out).
    #[uniffi(default)]
    pub start: StartOptions,
}

/// How a session is started: `GlanceStartParams`' `maxGuests`, `paused`, `persist`
/// (`StartOptions`, spec.md §3.3); each field has its default when left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StartOptions {
    /// At most this many agents may join (1 to 32767); null leaves it to the service.
    #[uniffi(default = None)]
    pub max_guests: Option<i32>,
    /// The session starts paused.
    #[uniffi(default = false)]
    pub paused: bool,
    /// A snapshot keeps the running session for the next launch; `false` ends it there.
    #[uniffi(default = true)]
    pub persist: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        core::StartOptions::default().into()
    }
}

impl From<core::StartOptions> for StartOptions {
    fn from(o: core::StartOptions) -> Self {
        StartOptions {
            max_guests: o.max_guests,
            paused: o.paused,
            persist: o.persist,
        }
    }
}

impl From<StartOptions> for core::StartOptions {
    fn from(o: StartOptions) -> Self {
        core::StartOptions {
            max_guests: o.max_guests,
            paused: o.paused,
            persist: o.persist,
        }
    }
}

/// The arguments of `init_visitor` (`InitParams`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[allow(missing_docs)]
pub struct InitParams {
    pub group_id: i32,
    pub token: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub visitor_id: Option<String>,
}

/// Which key `start_session` asks for (`StartKey`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum StartKey {
    /// `GLANCE_KEYTYPE_RANDOM`.
    Random,
    /// No argument: the visitor id (a random key when there is none).
    VisitorId,
    /// The app's own key.
    Custom {
        /// The key.
        key: String,
    },
}

/// One call into the SDK's API (`ApiCall`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum ApiCall {
    InitVisitor {
        params: InitParams,
    },
    SetDefaultUi {
        enabled: bool,
    },
    StartSession {
        key: StartKey,
        /// The start options (the defaults when left out).
        #[uniffi(default)]
        options: StartOptions,
    },
    EndSession,
    /// `max_attempts`: -1 retries forever (`ATTEMPTS_FOREVER`), else at least 1.
    PresenceConnect {
        max_attempts: i32,
    },
    PresenceSetDefaultUi {
        enabled: bool,
    },
    PresenceSignalAgent {
        event: String,
        map: HashMap<String, String>,
    },
    PresenceDisconnect,
    PresenceData {
        map: HashMap<String, String>,
    },
    PresenceSignalVisibility {
        visible: bool,
    },
    Pause {
        paused: bool,
    },
    SendUserMessage {
        name: String,
        map: HashMap<String, String>,
    },
    SetUserState {
        name: String,
        value: String,
    },
}

impl From<ApiCall> for core::ApiCall {
    fn from(c: ApiCall) -> Self {
        match c {
            ApiCall::InitVisitor { params: p } => core::ApiCall::InitVisitor(core::InitParams {
                group_id: p.group_id,
                token: p.token,
                name: p.name,
                email: p.email,
                phone: p.phone,
                visitor_id: p.visitor_id,
            }),
            ApiCall::SetDefaultUi { enabled } => core::ApiCall::SetDefaultUi { enabled },
            ApiCall::StartSession { key, options } => {
                core::ApiCall::StartSession(core::StartParams {
                    key: match key {
                        StartKey::Random => core::StartKey::Random,
                        StartKey::VisitorId => core::StartKey::VisitorId,
                        StartKey::Custom { key } => core::StartKey::Custom(key),
                    },
                    options: options.into(),
                })
            }
            ApiCall::EndSession => core::ApiCall::EndSession,
            ApiCall::PresenceConnect { max_attempts } => {
                core::ApiCall::PresenceConnect { max_attempts }
            }
            ApiCall::PresenceSetDefaultUi { enabled } => {
                core::ApiCall::PresenceSetDefaultUi { enabled }
            }
            ApiCall::PresenceSignalAgent { event, map } => core::ApiCall::PresenceSignalAgent {
                event,
                map: map.into_iter().collect::<BTreeMap<_, _>>(),
            },
            ApiCall::PresenceDisconnect => core::ApiCall::PresenceDisconnect,
            ApiCall::PresenceData { map } => core::ApiCall::PresenceData {
                map: map.into_iter().collect::<BTreeMap<_, _>>(),
            },
            ApiCall::PresenceSignalVisibility { visible } => {
                core::ApiCall::PresenceSignalVisibility { visible }
            }
            ApiCall::Pause { paused } => core::ApiCall::Pause { paused },
            ApiCall::SendUserMessage { name, map } => core::ApiCall::SendUserMessage {
                name,
                map: map.into_iter().collect(),
            },
            ApiCall::SetUserState { name, value } => core::ApiCall::SetUserState { name, value },
        }
    }
}

impl From<core::ApiCall> for ApiCall {
    fn from(c: core::ApiCall) -> Self {
        match c {
            core::ApiCall::InitVisitor(p) => ApiCall::InitVisitor {
                params: InitParams {
                    group_id: p.group_id,
                    token: p.token,
                    name: p.name,
                    email: p.email,
                    phone: p.phone,
                    visitor_id: p.visitor_id,
                },
            },
            core::ApiCall::SetDefaultUi { enabled } => ApiCall::SetDefaultUi { enabled },
            core::ApiCall::StartSession(core::StartParams { key, options }) => {
                ApiCall::StartSession {
                    key: match key {
                        core::StartKey::Random => StartKey::Random,
                        core::StartKey::VisitorId => StartKey::VisitorId,
                        core::StartKey::Custom(key) => StartKey::Custom { key },
                    },
                    options: options.into(),
                }
            }
            core::ApiCall::EndSession => ApiCall::EndSession,
            core::ApiCall::PresenceConnect { max_attempts } => {
                ApiCall::PresenceConnect { max_attempts }
            }
            core::ApiCall::PresenceSetDefaultUi { enabled } => {
                ApiCall::PresenceSetDefaultUi { enabled }
            }
            core::ApiCall::PresenceSignalAgent { event, map } => ApiCall::PresenceSignalAgent {
                event,
                map: map.into_iter().collect(),
            },
            core::ApiCall::PresenceDisconnect => ApiCall::PresenceDisconnect,
            core::ApiCall::PresenceData { map } => ApiCall::PresenceData {
                map: map.into_iter().collect(),
            },
            core::ApiCall::PresenceSignalVisibility { visible } => {
                ApiCall::PresenceSignalVisibility { visible }
            }
            core::ApiCall::Pause { paused } => ApiCall::Pause { paused },
            core::ApiCall::SendUserMessage { name, map } => ApiCall::SendUserMessage {
                name,
                map: map.into_iter().collect(),
            },
            core::ApiCall::SetUserState { name, value } => ApiCall::SetUserState { name, value },
        }
    }
}

/// A frame from the server (`ServerFrame`, spec.md §8.2).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum ServerFrame {
    Settings {
        v: u32,
        key_length: u8,
        agent_start: bool,
    },
    InitFailed {
        reason: String,
    },
    SessionStarted {
        sessionkey: String,
    },
    SessionRefused {
        reason: String,
    },
    GuestCount {
        guestcount: u32,
    },
    SessionEnded {
        reason: String,
    },
    PresenceConnected,
    PresenceConnectFailed {
        reason: String,
    },
    PresenceShowTerms {
        request_id: u64,
    },
    PresenceBlur,
    PresenceSignal {
        event: String,
        map: HashMap<String, String>,
    },
    PresenceStartSession {
        request_id: u64,
    },
    PresenceNotConfigured,
    UserMessage {
        name: String,
        map: HashMap<String, String>,
    },
}

impl From<ServerFrame> for core::ServerFrame {
    fn from(f: ServerFrame) -> Self {
        use core::ServerFrame as S;
        match f {
            ServerFrame::Settings {
                v,
                key_length,
                agent_start,
            } => S::Settings {
                v,
                key_length,
                agent_start,
            },
            ServerFrame::InitFailed { reason } => S::InitFailed { reason },
            ServerFrame::SessionStarted { sessionkey } => S::SessionStarted { sessionkey },
            ServerFrame::SessionRefused { reason } => S::SessionRefused { reason },
            ServerFrame::GuestCount { guestcount } => S::GuestCount { guestcount },
            ServerFrame::SessionEnded { reason } => S::SessionEnded { reason },
            ServerFrame::PresenceConnected => S::PresenceConnected {},
            ServerFrame::PresenceConnectFailed { reason } => S::PresenceConnectFailed { reason },
            ServerFrame::PresenceShowTerms { request_id } => S::PresenceShowTerms { request_id },
            ServerFrame::PresenceBlur => S::PresenceBlur {},
            ServerFrame::PresenceSignal { event, map } => S::PresenceSignal {
                event,
                map: map.into_iter().collect(),
            },
            ServerFrame::PresenceStartSession { request_id } => {
                S::PresenceStartSession { request_id }
            }
            ServerFrame::PresenceNotConfigured => S::PresenceNotConfigured {},
            ServerFrame::UserMessage { name, map } => S::UserMessage {
                name,
                map: map.into_iter().collect(),
            },
        }
    }
}

/// A frame to the server (`ClientFrame`, spec.md §8.1). `encode_client_frame` gives its
/// wire bytes.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum ClientFrame {
    Init {
        v: u32,
        group_id: i32,
        token: String,
        name: String,
        email: String,
        phone: String,
        visitor_id: Option<String>,
    },
    StartSession {
        key: Option<String>,
        /// `maxGuests`, when the start set it.
        #[uniffi(default = None)]
        max_guests: Option<u16>,
        /// The session starts paused.
        #[uniffi(default = false)]
        paused: bool,
    },
    EndSession,
    ResumeSession {
        sessionkey: String,
    },
    PresenceConnect {
        visitor_id: String,
    },
    PresenceDisconnect,
    PresenceSignal {
        event: String,
        map: HashMap<String, String>,
        request_id: Option<u64>,
    },
    AppState {
        foreground: bool,
    },
    PresenceData {
        map: HashMap<String, String>,
    },
    PresenceVisibility {
        visible: bool,
    },
    Pause {
        paused: bool,
    },
    UserMessage {
        name: String,
        map: HashMap<String, String>,
    },
    UserState {
        state: HashMap<String, String>,
    },
}

impl From<core::ClientFrame> for ClientFrame {
    fn from(f: core::ClientFrame) -> Self {
        use core::ClientFrame as C;
        match f {
            C::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            } => ClientFrame::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            },
            C::StartSession {
                key,
                max_guests,
                paused,
            } => ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            },
            C::EndSession {} => ClientFrame::EndSession,
            C::ResumeSession { sessionkey } => ClientFrame::ResumeSession { sessionkey },
            C::PresenceConnect { visitor_id } => ClientFrame::PresenceConnect { visitor_id },
            C::PresenceDisconnect {} => ClientFrame::PresenceDisconnect,
            C::PresenceSignal {
                event,
                map,
                request_id,
            } => ClientFrame::PresenceSignal {
                event,
                map: map.into_iter().collect(),
                request_id,
            },
            C::AppState { foreground } => ClientFrame::AppState { foreground },
            C::PresenceData { map } => ClientFrame::PresenceData {
                map: map.into_iter().collect(),
            },
            C::PresenceVisibility { visible } => ClientFrame::PresenceVisibility { visible },
            C::Pause { paused } => ClientFrame::Pause { paused },
            C::UserMessage { name, map } => ClientFrame::UserMessage {
                name,
                map: map.into_iter().collect(),
            },
            C::UserState { state } => ClientFrame::UserState {
                state: state.into_iter().collect(),
            },
        }
    }
}

impl From<ClientFrame> for core::ClientFrame {
    fn from(f: ClientFrame) -> Self {
        use core::ClientFrame as C;
        match f {
            ClientFrame::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            } => C::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            },
            ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            } => C::StartSession {
                key,
                max_guests,
                paused,
            },
            ClientFrame::EndSession => C::EndSession {},
            ClientFrame::ResumeSession { sessionkey } => C::ResumeSession { sessionkey },
            ClientFrame::PresenceConnect { visitor_id } => C::PresenceConnect { visitor_id },
            ClientFrame::PresenceDisconnect => C::PresenceDisconnect {},
            ClientFrame::PresenceSignal {
                event,
                map,
                request_id,
            } => C::PresenceSignal {
                event,
                map: map.into_iter().collect(),
                request_id,
            },
            ClientFrame::AppState { foreground } => C::AppState { foreground },
            ClientFrame::PresenceData { map } => C::PresenceData {
                map: map.into_iter().collect(),
            },
            ClientFrame::PresenceVisibility { visible } => C::PresenceVisibility { visible },
            ClientFrame::Pause { paused } => C::Pause { paused },
            ClientFrame::UserMessage { name, map } => C::UserMessage {
                name,
                map: map.into_iter().collect(),
            },
            ClientFrame::UserState { state } => C::UserState {
                state: state.into_iter().collect(),
            },
        }
    }
}

/// The frame's wire bytes (JSON, spec.md §8), to send on the transport.
#[uniffi::export]
pub fn encode_client_frame(frame: ClientFrame) -> Vec<u8> {
    core::ClientFrame::from(frame).encode()
}

/// An SDK event for the app (`Event`, with the Glance names of spec.md §11 through
/// `event_code` / `event_properties`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum Event {
    VisitorInitialized {
        settings_loaded: bool,
    },
    ConnectedToSession {
        sessionkey: String,
        keytype: KeyType,
    },
    GuestCountChange {
        guestcount: u32,
    },
    SessionEnded {
        reason: String,
    },
    StartSessionFailed {
        reason: String,
    },
    InvalidParameter {
        call: CallName,
        code: ErrorCode,
    },
    InvalidState {
        call: CallName,
        code: ErrorCode,
    },
    PresenceConnected,
    /// `retry_ms` is null after the last attempt of `connect(maxAttempts)`.
    PresenceConnectFail {
        reason: String,
        retry_ms: Option<u64>,
    },
    PresenceShowTerms {
        request_id: u64,
    },
    PresenceDisconnected,
    PresenceBlur,
    ConnectionWarning,
    ClearWarning,
    PresenceSignal {
        event: String,
        map: HashMap<String, String>,
    },
    PresenceStartSession {
        request_id: u64,
    },
    PresenceNotConfigured,
    PresenceSendFail {
        call: CallName,
        code: ErrorCode,
    },
    MessageReceived {
        name: String,
        map: HashMap<String, String>,
    },
}

impl From<&core::Event> for Event {
    fn from(e: &core::Event) -> Self {
        use core::Event as E;
        match e.clone() {
            E::VisitorInitialized { settings_loaded } => {
                Event::VisitorInitialized { settings_loaded }
            }
            E::ConnectedToSession {
                sessionkey,
                keytype,
            } => Event::ConnectedToSession {
                sessionkey,
                keytype: key_type(keytype),
            },
            E::GuestCountChange { guestcount } => Event::GuestCountChange { guestcount },
            E::SessionEnded { reason } => Event::SessionEnded { reason },
            E::StartSessionFailed { reason } => Event::StartSessionFailed { reason },
            E::InvalidParameter { call, code } => Event::InvalidParameter {
                call: call_name(call),
                code: error_code(code),
            },
            E::InvalidState { call, code } => Event::InvalidState {
                call: call_name(call),
                code: error_code(code),
            },
            E::PresenceConnected => Event::PresenceConnected,
            E::PresenceConnectFail { reason, retry_ms } => {
                Event::PresenceConnectFail { reason, retry_ms }
            }
            E::PresenceShowTerms { request_id } => Event::PresenceShowTerms { request_id },
            E::PresenceDisconnected => Event::PresenceDisconnected,
            E::PresenceBlur => Event::PresenceBlur,
            E::ConnectionWarning => Event::ConnectionWarning,
            E::ClearWarning => Event::ClearWarning,
            E::PresenceSignal { event, map } => Event::PresenceSignal {
                event,
                map: map.into_iter().collect(),
            },
            E::PresenceStartSession { request_id } => Event::PresenceStartSession { request_id },
            E::PresenceNotConfigured => Event::PresenceNotConfigured,
            E::PresenceSendFail { call, code } => Event::PresenceSendFail {
                call: call_name(call),
                code: error_code(code),
            },
            E::MessageReceived { name, map } => Event::MessageReceived {
                name,
                map: map.into_iter().collect(),
            },
            // the core's `Event` is non-exhaustive; a new variant needs a mirror first (the
            // test `every_core_event_has_a_mirror` fails until it has one)
            #[allow(unreachable_patterns)]
            _ => Event::ConnectionWarning,
        }
    }
}

impl From<Event> for core::Event {
    fn from(e: Event) -> Self {
        use core::Event as E;
        match e {
            Event::VisitorInitialized { settings_loaded } => {
                E::VisitorInitialized { settings_loaded }
            }
            Event::ConnectedToSession {
                sessionkey,
                keytype,
            } => E::ConnectedToSession {
                sessionkey,
                keytype: core_key_type(keytype),
            },
            Event::GuestCountChange { guestcount } => E::GuestCountChange { guestcount },
            Event::SessionEnded { reason } => E::SessionEnded { reason },
            Event::StartSessionFailed { reason } => E::StartSessionFailed { reason },
            Event::InvalidParameter { call, code } => E::InvalidParameter {
                call: core_call_name(call),
                code: core_error_code(code),
            },
            Event::InvalidState { call, code } => E::InvalidState {
                call: core_call_name(call),
                code: core_error_code(code),
            },
            Event::PresenceConnected => E::PresenceConnected,
            Event::PresenceConnectFail { reason, retry_ms } => {
                E::PresenceConnectFail { reason, retry_ms }
            }
            Event::PresenceShowTerms { request_id } => E::PresenceShowTerms { request_id },
            Event::PresenceDisconnected => E::PresenceDisconnected,
            Event::PresenceBlur => E::PresenceBlur,
            Event::ConnectionWarning => E::ConnectionWarning,
            Event::ClearWarning => E::ClearWarning,
            Event::PresenceSignal { event, map } => E::PresenceSignal {
                event,
                map: map.into_iter().collect(),
            },
            Event::PresenceStartSession { request_id } => E::PresenceStartSession { request_id },
            Event::PresenceNotConfigured => E::PresenceNotConfigured,
            Event::PresenceSendFail { call, code } => E::PresenceSendFail {
                call: core_call_name(call),
                code: core_error_code(code),
            },
            Event::MessageReceived { name, map } => E::MessageReceived {
                name,
                map: map.into_iter().collect(),
            },
        }
    }
}

/// The Glance event code (`EventConnectedToSession`, …).
#[uniffi::export]
pub fn event_code(event: Event) -> String {
    core::Event::from(event).code().to_owned()
}

/// The event's `type` (`GlanceEvent.type`): `info`, `warning`, `error` or `assert_fail`.
#[uniffi::export]
pub fn event_type(event: Event) -> String {
    core::Event::from(event).event_type().as_str().to_owned()
}

/// The event's `message` (`GlanceEvent.message`): one English sentence for logs.
#[uniffi::export]
pub fn event_message(event: Event) -> String {
    core::Event::from(event).message()
}

/// The event's properties as the Glance SDK names them (string values).
#[uniffi::export]
pub fn event_properties(event: Event) -> HashMap<String, String> {
    core::Event::from(event).properties().into_iter().collect()
}

/// One input to the SDK core (`Input`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Input {
    /// The app called the API.
    Api {
        /// The call.
        call: ApiCall,
    },
    /// A frame arrived from the server.
    Frame {
        /// The frame.
        frame: ServerFrame,
    },
    /// The app's lifecycle changed.
    Lifecycle {
        /// The change.
        change: Lifecycle,
    },
    /// The transport went down or came back.
    Network {
        /// The change.
        change: NetworkChange,
    },
    /// Time reached a deadline.
    Timeout,
}

impl From<Input> for core::Input {
    fn from(i: Input) -> Self {
        match i {
            Input::Api { call } => core::Input::Api(call.into()),
            Input::Frame { frame } => core::Input::Frame(frame.into()),
            Input::Lifecycle { change } => core::Input::Lifecycle(change.into()),
            Input::Network { change } => core::Input::Network(change.into()),
            Input::Timeout => core::Input::Timeout,
        }
    }
}

/// One output of the SDK core (`Output`); `Timeout` ends a drain.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Output {
    /// Deliver this event to the app.
    Event {
        /// The event.
        event: Event,
    },
    /// Send this frame (`encode_client_frame` gives its bytes).
    Transmit {
        /// The frame.
        frame: ClientFrame,
    },
    /// Open a new transport; report `Network(Restored)` when it is up.
    Connect,
    /// Nothing more now; call `handle_input(at_ms, Timeout)` at `at_ms`, or never when null.
    Timeout {
        /// The next deadline, in the caller's milliseconds.
        at_ms: Option<u64>,
    },
}

impl From<core::Output> for Output {
    fn from(o: core::Output) -> Self {
        match o {
            core::Output::Event(e) => Output::Event { event: (&e).into() },
            core::Output::Transmit(f) => Output::Transmit { frame: f.into() },
            core::Output::Connect => Output::Connect,
            core::Output::Timeout(t) => Output::Timeout {
                at_ms: t.map(core::Instant::as_millis),
            },
        }
    }
}

/// An SDK-core input refused (spec.md §9); nothing changed but the due timers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SdkError {
    /// The app misused the API (also reported as `EventInvalidParameter` /
    /// `EventInvalidState`).
    #[error("{code:?}: {detail}")]
    Api {
        /// The refusal's code.
        code: ErrorCode,
        /// The core's message.
        detail: String,
    },
    /// The server broke the protocol.
    #[error("{code:?}: {detail}")]
    Protocol {
        /// The refusal's code.
        code: ErrorCode,
        /// The core's message.
        detail: String,
    },
    /// `now_ms` went backwards.
    #[error("{code:?}: {detail}")]
    TimeWentBackwards {
        /// `TimeWentBackwards`.
        code: ErrorCode,
        /// The core's message.
        detail: String,
    },
}

impl From<core::Error> for SdkError {
    fn from(e: core::Error) -> Self {
        let code = error_code(e.code());
        let detail = e.to_string();
        match e {
            core::Error::Api(_) => SdkError::Api { code, detail },
            core::Error::Protocol(_) => SdkError::Protocol { code, detail },
            _ => SdkError::TimeWentBackwards { code, detail },
        }
    }
}

/// The SDK core's state, summarized (the names of spec.md §4.1).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SdkState {
    /// `uninitialized`, `initializing`, `ready` or `terminated`.
    pub phase: String,
    /// In `ready`: `idle`, `starting`, `running` or `ending`.
    pub session: Option<String>,
    /// In `ready`: `off`, `awaiting_link`, `connecting`, `retry_wait`, `connected`,
    /// `blurred`, `suspended` or `not_configured` (Android's `isPresenceConnected` is
    /// `connected`).
    pub presence: Option<String>,
    /// With presence connected: the one-click request, `none`, `shown`, `displayed`,
    /// `accepted` or `agent_start` (Android's `arePresenceTermsDisplayed` is `displayed`).
    pub terms: Option<String>,
    /// The running session's key.
    pub session_key: Option<String>,
    /// The running session is paused (`GlanceSessionInfo.isPaused`).
    pub paused: bool,
    /// Agents in the running session (`GlanceSessionInfo.nGuests`).
    pub guests: u32,
    /// The visitor id of the latest accepted `init_visitor`.
    pub visitor_id: Option<String>,
    /// Whether the link is up.
    pub link_up: bool,
    /// Whether the app is in the foreground.
    pub foreground: bool,
    /// The latest accepted input's time.
    pub now_ms: u64,
}

/// A snapshot that was not restored (`RestoreError`, spec.md §5.6); nothing was restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum RestoreError {
    /// Written by another format or crate version.
    #[error("{detail}")]
    Version {
        /// The core's message.
        detail: String,
    },
    /// Of another group than the app's.
    #[error("{detail}")]
    GroupId {
        /// The core's message.
        detail: String,
    },
    /// Not a snapshot, or a field breaks the SDK's rules.
    #[error("{detail}")]
    Corrupt {
        /// The core's message.
        detail: String,
    },
}

impl From<core::RestoreError> for RestoreError {
    fn from(e: core::RestoreError) -> Self {
        let detail = e.to_string();
        match e {
            core::RestoreError::Version { .. } => RestoreError::Version { detail },
            core::RestoreError::GroupId { .. } => RestoreError::GroupId { detail },
            _ => RestoreError::Corrupt { detail },
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic inside the core poisons nothing the core relies on: its state is a value
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The SDK core (`Sdk`). After every input, drain `poll_output` until `Output.Timeout`.
#[derive(Debug, uniffi::Object)]
pub struct Sdk {
    inner: Mutex<core::Sdk>,
}

#[uniffi::export]
impl Sdk {
    /// A new core with these timer durations (`default_sdk_config()` for the spec's).
    #[uniffi::constructor]
    pub fn new(config: SdkConfig) -> Arc<Self> {
        Arc::new(Sdk {
            inner: Mutex::new(core::Sdk::new(config.into())),
        })
    }

    /// Handles one input at `now_ms` (fires due timers first).
    pub fn handle_input(&self, now_ms: u64, input: Input) -> Result<(), SdkError> {
        lock(&self.inner)
            .handle_input(core::Instant::from_millis(now_ms), input.into())
            .map_err(SdkError::from)
    }

    /// Decodes server bytes and handles the frame.
    pub fn handle_bytes(&self, now_ms: u64, bytes: Vec<u8>) -> Result<(), SdkError> {
        lock(&self.inner)
            .handle_bytes(core::Instant::from_millis(now_ms), &bytes)
            .map_err(SdkError::from)
    }

    /// The next output; `Output.Timeout` when the queue is empty.
    pub fn poll_output(&self) -> Output {
        lock(&self.inner).poll_output().into()
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<u64> {
        lock(&self.inner)
            .poll_timeout()
            .map(core::Instant::as_millis)
    }

    /// The rows of spec.md §5 the last input went through, as IDs (`S-A20`, …).
    pub fn last_rows(&self) -> Vec<String> {
        lock(&self.inner)
            .last_rows()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    /// A snapshot for the next app launch (JSON, for the app's storage), at wall-clock
    /// `unix_ms`; null before the first `EventVisitorInitialized` (spec.md §5.6).
    pub fn snapshot(&self, unix_ms: u64) -> Option<String> {
        lock(&self.inner).snapshot(unix_ms).map(|s| s.to_json())
    }

    /// The core for the next app launch from a `snapshot`'s JSON, for the app's `group_id`,
    /// at the new process's `now_ms` and wall-clock `unix_ms`; refused whole
    /// (`RestoreError`) for another version or group or a corrupted snapshot.
    #[uniffi::constructor]
    pub fn restore(
        config: SdkConfig,
        snapshot: String,
        group_id: i32,
        now_ms: u64,
        unix_ms: u64,
    ) -> Result<Arc<Self>, RestoreError> {
        let snapshot = core::Snapshot::from_json(&snapshot)?;
        let sdk = core::Sdk::restore(
            config.into(),
            snapshot,
            group_id,
            core::Instant::from_millis(now_ms),
            unix_ms,
        )?;
        Ok(Arc::new(Sdk {
            inner: Mutex::new(sdk),
        }))
    }

    /// The state, summarized.
    pub fn state(&self) -> SdkState {
        let sdk = lock(&self.inner);
        let s = sdk.state();
        let terms = match &s.phase {
            core::Phase::Ready(core::Ready {
                presence: core::Presence::Connected { terms },
                ..
            }) => Some(
                match terms {
                    core::Terms::None => "none",
                    core::Terms::Shown { .. } => "shown",
                    core::Terms::Displayed { .. } => "displayed",
                    core::Terms::Accepted { .. } => "accepted",
                    core::Terms::AgentStart { .. } => "agent_start",
                }
                .to_owned(),
            ),
            _ => None,
        };
        let (session, presence, session_key, visitor_id) = match &s.phase {
            core::Phase::Ready(r) => (
                Some(r.session.kind().as_str().to_owned()),
                Some(r.presence.kind().as_str().to_owned()),
                match &r.session {
                    core::Session::Running { key, .. } => Some(key.clone()),
                    _ => None,
                },
                r.visitor.visitor_id.clone(),
            ),
            core::Phase::Initializing { visitor } => (None, None, None, visitor.visitor_id.clone()),
            _ => (None, None, None, None),
        };
        SdkState {
            phase: s.phase.kind().as_str().to_owned(),
            session,
            presence,
            terms,
            session_key,
            paused: sdk.is_paused(),
            guests: sdk.session_info().map_or(0, |(_, guests, _)| guests),
            visitor_id,
            link_up: matches!(s.link, core::Link::Up),
            foreground: matches!(s.app, core::AppVisibility::Foreground),
            now_ms: s.now.as_millis(),
        }
    }
}

/// What the customer does (`UserIntent`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum UserIntent {
    Launch,
    TapCobrowse,
    Login {
        visitor_id: String,
    },
    AcceptTerms,
    DeclineTerms,
    EndSession,
    Logout,
    Exit,
    PresenceData {
        map: HashMap<String, String>,
    },
    TogglePause,
    SendMessage {
        name: String,
        map: HashMap<String, String>,
    },
    SetUserState {
        name: String,
        value: String,
    },
}

impl From<UserIntent> for core::UserIntent {
    fn from(u: UserIntent) -> Self {
        use core::UserIntent as U;
        match u {
            UserIntent::Launch => U::Launch,
            UserIntent::TapCobrowse => U::TapCobrowse,
            UserIntent::Login { visitor_id } => U::Login { visitor_id },
            UserIntent::AcceptTerms => U::AcceptTerms,
            UserIntent::DeclineTerms => U::DeclineTerms,
            UserIntent::EndSession => U::EndSession,
            UserIntent::Logout => U::Logout,
            UserIntent::Exit => U::Exit,
            UserIntent::PresenceData { map } => U::PresenceData {
                map: map.into_iter().collect(),
            },
            UserIntent::TogglePause => U::TogglePause,
            UserIntent::SendMessage { name, map } => U::SendMessage {
                name,
                map: map.into_iter().collect(),
            },
            UserIntent::SetUserState { name, value } => U::SetUserState { name, value },
        }
    }
}

/// Show or hide a UI element (`UiDirective`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum UiDirective {
    Show {
        element: UiElement,
        key: Option<String>,
    },
    Hide {
        element: UiElement,
    },
}

/// One input to the controller (`ControllerInput`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
#[allow(missing_docs)]
pub enum ControllerInput {
    User { intent: UserIntent },
    Lifecycle { change: Lifecycle },
    Event { event: Event },
}

/// One output of the controller (`ControllerOutput`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ControllerOutput {
    /// Call the SDK core with this.
    Call {
        /// The call.
        call: ApiCall,
    },
    /// Change what the customer sees.
    Ui {
        /// The directive.
        directive: UiDirective,
    },
    /// The agent's custom signal (`EventPresenceSignal`), for the app's own code.
    AgentSignal {
        /// The signal's name.
        event: String,
        /// Its properties.
        map: HashMap<String, String>,
    },
    /// An agent's message in the session (`EventMessageReceived`), for the app's own code.
    AgentMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        map: HashMap<String, String>,
    },
}

impl From<core::ControllerOutput> for ControllerOutput {
    fn from(o: core::ControllerOutput) -> Self {
        match o {
            core::ControllerOutput::Call(c) => ControllerOutput::Call { call: c.into() },
            core::ControllerOutput::Ui(u) => ControllerOutput::Ui {
                directive: match u {
                    core::UiDirective::Show { element, key } => UiDirective::Show {
                        element: ui_element(element),
                        key,
                    },
                    core::UiDirective::Hide { element } => UiDirective::Hide {
                        element: ui_element(element),
                    },
                },
            },
            core::ControllerOutput::AgentSignal { event, map } => ControllerOutput::AgentSignal {
                event,
                map: map.into_iter().collect(),
            },
            core::ControllerOutput::AgentMessage { name, map } => ControllerOutput::AgentMessage {
                name,
                map: map.into_iter().collect(),
            },
        }
    }
}

/// A user intent the controller refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ControllerError {
    /// Refused: `code` is the spec's (`not_launched`, `button_not_shown`, …).
    #[error("{code:?}: {detail}")]
    Refused {
        /// The refusal's code.
        code: ErrorCode,
        /// The controller's message.
        detail: String,
    },
}

/// The controller's state, summarized (spec.md §4.2).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ControllerState {
    /// `not_launched`, `running` or `exited`.
    pub phase: String,
    /// The first `EventVisitorInitialized` has been seen.
    pub initialized: bool,
    /// The logged-in (or logging-in) customer.
    pub visitor_id: Option<String>,
    /// The Cobrowse button is shown.
    pub button_shown: bool,
    /// The terms are shown.
    pub terms_shown: bool,
}

/// The integration controller (`Controller`): the seed's app logic. Feed each
/// `ControllerOutput.Call` to the SDK core and each SDK event back here.
#[derive(Debug, uniffi::Object)]
pub struct Controller {
    inner: Mutex<core::Controller>,
}

#[uniffi::export]
impl Controller {
    /// A new controller, judging login ids under the default limits (`glance5`).
    #[uniffi::constructor]
    pub fn new(config: ControllerConfig) -> Arc<Self> {
        Controller::with_limits(config, Limits::Glance5)
    }

    /// A new controller for an SDK core configured with `limits` (`SdkConfig.limits`): a
    /// login id is judged by the same profile, so the controller never makes a call the core
    /// refuses.
    #[uniffi::constructor]
    pub fn with_limits(config: ControllerConfig, limits: Limits) -> Arc<Self> {
        Arc::new(Controller {
            inner: Mutex::new(core::Controller::new(core::ControllerConfig {
                group_id: config.group_id,
                custom_ui: config.custom_ui,
                limits: core_limits(limits),
                start: config.start.into(),
            })),
        })
    }

    /// A snapshot for the next app launch (JSON); null before `launch` and after `exit`.
    pub fn snapshot(&self) -> Option<String> {
        lock(&self.inner).snapshot().map(|s| s.to_json())
    }

    /// The controller for the next launch, in place of `launch`, next to the restored `sdk`
    /// (spec.md §6.1); drain `poll_output` at once: it draws the screen again.
    #[uniffi::constructor]
    pub fn restore(
        config: ControllerConfig,
        snapshot: String,
        sdk: Arc<Sdk>,
    ) -> Result<Arc<Self>, RestoreError> {
        let snapshot = core::ControllerSnapshot::from_json(&snapshot)?;
        let core_sdk = lock(&sdk.inner);
        // the limits are the restored core's, as the snapshot's controller had them
        let limits = snapshot.config.limits;
        let c = core::Controller::restore(
            core::ControllerConfig {
                group_id: config.group_id,
                custom_ui: config.custom_ui,
                limits,
                start: config.start.into(),
            },
            snapshot,
            &core_sdk,
        )?;
        Ok(Arc::new(Controller {
            inner: Mutex::new(c),
        }))
    }

    /// Handles one input.
    pub fn handle_input(&self, input: ControllerInput) -> Result<(), ControllerError> {
        let input = match input {
            ControllerInput::User { intent } => core::ControllerInput::User(intent.into()),
            ControllerInput::Lifecycle { change } => {
                core::ControllerInput::Lifecycle(change.into())
            }
            ControllerInput::Event { event } => core::ControllerInput::Event(event.into()),
        };
        lock(&self.inner)
            .handle_input(input)
            .map_err(|e| ControllerError::Refused {
                code: error_code(e.code()),
                detail: e.to_string(),
            })
    }

    /// The next output, or null when there is none.
    pub fn poll_output(&self) -> Option<ControllerOutput> {
        lock(&self.inner).poll_output().map(ControllerOutput::from)
    }

    /// The rows of spec.md §6 the last input went through, as IDs.
    pub fn last_rows(&self) -> Vec<String> {
        lock(&self.inner)
            .last_rows()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    /// The state, summarized.
    pub fn state(&self) -> ControllerState {
        let c = lock(&self.inner);
        match c.state() {
            core::ControllerState::NotLaunched => ControllerState {
                phase: "not_launched".into(),
                initialized: false,
                visitor_id: None,
                button_shown: false,
                terms_shown: false,
            },
            core::ControllerState::Running(app) => ControllerState {
                phase: "running".into(),
                initialized: app.initialized,
                visitor_id: match &app.identity {
                    core::Identity::Anonymous => None,
                    core::Identity::LoggingIn(id) | core::Identity::LoggedIn(id) => {
                        Some(id.clone())
                    }
                },
                button_shown: app.button_shown,
                terms_shown: app.terms_shown,
            },
            core::ControllerState::Exited => ControllerState {
                phase: "exited".into(),
                initialized: false,
                visitor_id: None,
                button_shown: false,
                terms_shown: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_and_call_has_a_mirror() {
        for c in core::ErrorCode::ALL {
            assert_eq!(
                ErrorCode::parse(c.as_str()).map(|m| m.as_str()),
                Some(c.as_str())
            );
        }
        for c in core::CallName::ALL {
            assert_eq!(
                CallName::parse(c.as_str()).map(|m| m.as_str()),
                Some(c.as_str())
            );
        }
    }

    #[test]
    fn every_core_event_has_a_mirror() {
        let map = BTreeMap::from([("page".to_owned(), "checkout".to_owned())]);
        let events = [
            core::Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: None,
            },
            core::Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: Some(1000),
            },
            core::Event::PresenceSignal {
                event: "open_page".into(),
                map: map.clone(),
            },
            core::Event::PresenceStartSession { request_id: 7 },
            core::Event::PresenceNotConfigured,
            core::Event::MessageReceived {
                name: "open".into(),
                map: map.clone(),
            },
            core::Event::PresenceSendFail {
                call: core::CallName::PresenceSignalAgent,
                code: core::ErrorCode::PresenceSendFail,
            },
        ];
        for e in events {
            let mirror = Event::from(&e);
            assert_eq!(core::Event::from(mirror.clone()), e);
            assert_eq!(event_code(mirror.clone()), e.code());
            assert_eq!(
                event_properties(mirror),
                e.properties().into_iter().collect::<HashMap<_, _>>()
            );
        }
        for p in [
            core::ConsentPolicy::TermsRequired,
            core::ConsentPolicy::AgentMayStart,
        ] {
            assert_eq!(core_consent_policy(consent_policy(p)), p);
        }
        for l in core::Limits::ALL {
            assert_eq!(core_limits(limits(l)), l);
        }
        let c = default_sdk_config();
        assert_eq!(core::SdkConfig::from(c), core::SdkConfig::default());
    }

    #[test]
    fn agent_start_under_both_opt_ins_through_the_binding() {
        let sdk = Sdk::new(SdkConfig {
            consent_policy: ConsentPolicy::AgentMayStart,
            ..default_sdk_config()
        });
        let input = |now: u64, i: Input| sdk.handle_input(now, i).expect("accepted");
        input(
            0,
            Input::Api {
                call: ApiCall::InitVisitor {
                    params: InitParams {
                        group_id: 19921,
                        token: String::new(),
                        name: String::new(),
                        email: String::new(),
                        phone: String::new(),
                        visitor_id: Some("cust-42".into()),
                    },
                },
            },
        );
        input(
            1,
            Input::Frame {
                frame: ServerFrame::Settings {
                    v: 1,
                    key_length: 4,
                    agent_start: true,
                },
            },
        );
        input(
            2,
            Input::Api {
                call: ApiCall::PresenceConnect { max_attempts: 3 },
            },
        );
        input(
            3,
            Input::Frame {
                frame: ServerFrame::PresenceConnected,
            },
        );
        input(
            4,
            Input::Frame {
                frame: ServerFrame::PresenceStartSession { request_id: 5 },
            },
        );
        let mut events = Vec::new();
        loop {
            match sdk.poll_output() {
                Output::Event { event } => events.push(event),
                Output::Timeout { .. } => break,
                Output::Transmit { .. } | Output::Connect => {}
            }
        }
        assert_eq!(
            events.last(),
            Some(&Event::PresenceStartSession { request_id: 5 })
        );
        assert_eq!(sdk.state().terms.as_deref(), Some("agent_start"));
        input(
            5,
            Input::Api {
                call: ApiCall::StartSession {
                    key: StartKey::VisitorId,
                    options: StartOptions::default(),
                },
            },
        );
        assert_eq!(
            sdk.last_rows(),
            vec!["S-A26".to_owned(), "S-A20".to_owned()]
        );
    }

    #[test]
    fn snapshot_and_restore_through_the_binding() {
        let sdk = Sdk::new(default_sdk_config());
        assert_eq!(sdk.snapshot(0), None, "nothing before init");
        sdk.handle_input(
            0,
            Input::Api {
                call: ApiCall::InitVisitor {
                    params: InitParams {
                        group_id: 19921,
                        token: String::new(),
                        name: String::new(),
                        email: String::new(),
                        phone: String::new(),
                        visitor_id: None,
                    },
                },
            },
        )
        .unwrap();
        sdk.handle_input(
            1,
            Input::Frame {
                frame: ServerFrame::Settings {
                    v: 1,
                    key_length: 4,
                    agent_start: false,
                },
            },
        )
        .unwrap();
        let json = sdk.snapshot(1_000).expect("ready");
        let next = Sdk::restore(default_sdk_config(), json.clone(), 19921, 0, 2_000).unwrap();
        assert_eq!(next.poll_output(), Output::Connect);
        assert_eq!(next.last_rows(), vec!["S-R03".to_owned()]);
        assert!(matches!(
            Sdk::restore(default_sdk_config(), json.clone(), 7, 0, 2_000),
            Err(RestoreError::GroupId { .. })
        ));
        assert!(matches!(
            Sdk::restore(default_sdk_config(), json[..10].to_owned(), 19921, 0, 2_000),
            Err(RestoreError::Corrupt { .. })
        ));
        let e = Event::MessageReceived {
            name: "open".into(),
            map: HashMap::new(),
        };
        assert_eq!(event_type(e.clone()), "info");
        assert_eq!(event_message(e), "message `open` from the agent");
    }

    #[test]
    fn a_refusal_is_a_typed_error_with_its_code() {
        let sdk = Sdk::new(default_sdk_config());
        let err = sdk
            .handle_input(
                0,
                Input::Api {
                    call: ApiCall::StartSession {
                        key: StartKey::Random,
                        options: StartOptions::default(),
                    },
                },
            )
            .expect_err("not initialized");
        assert!(
            matches!(
                err,
                SdkError::Api {
                    code: ErrorCode::NotInitialized,
                    ..
                }
            ),
            "{err:?}"
        );
        let c = Controller::new(ControllerConfig {
            group_id: 19921,
            custom_ui: true,
            start: StartOptions::default(),
        });
        let web = Controller::with_limits(
            ControllerConfig {
                group_id: 19921,
                custom_ui: true,
                start: StartOptions::default(),
            },
            Limits::WebCompatible,
        );
        web.handle_input(ControllerInput::User {
            intent: UserIntent::Launch,
        })
        .unwrap();
        let refused = web
            .handle_input(ControllerInput::User {
                intent: UserIntent::Login {
                    visitor_id: "v".repeat(51),
                },
            })
            .expect_err("51 characters under web_compatible");
        assert!(matches!(
            refused,
            ControllerError::Refused {
                code: ErrorCode::InvalidParameter,
                ..
            }
        ));
        let err = c
            .handle_input(ControllerInput::User {
                intent: UserIntent::TapCobrowse,
            })
            .expect_err("not launched");
        assert_eq!(
            err,
            ControllerError::Refused {
                code: ErrorCode::NotLaunched,
                detail: "the app has not launched".into()
            }
        );
    }
}
