//! The SDK's API calls as values, and the field rules the real SDK enforces on them.
//!
//! Each [`ApiCall`] is one call an app makes into the Glance visitor SDK
//! (`GlanceVisitor.initVisitor`, `GlancePresenceVisitor.connect`, …). Its JSON shape is the
//! contract's `api` record: `{"call": "init_visitor", "group_id": 19921, …}`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use thiserror::Error;

/// The key argument that asks the server for a random numeric session key.
pub const GLANCE_KEYTYPE_RANDOM: &str = "GLANCE_KEYTYPE_RANDOM";

/// The smallest valid group id: a Glance group id is positive.
pub const MIN_GROUP_ID: i32 = 1;
/// The largest valid group id: the seed's `initVisitor` takes an `Int32`.
pub const MAX_GROUP_ID: i32 = i32::MAX;
/// Longest visitor id (`[A-Za-z0-9-_~]`), in characters, under the default limits
/// ([`Limits::Glance5`]; see [`Limits`] for the others).
pub const MAX_VISITOR_ID: usize = 62;
/// Longest visitor id under [`Limits::GlanceCore`] (the newer `Glance_iOS.h`).
pub const MAX_VISITOR_ID_CORE: usize = 100;
/// Longest visitor id under [`Limits::WebCompatible`]: the web SDK's session-key rule, for an
/// id that is also a web page's session key.
pub const MAX_VISITOR_ID_WEB: usize = 50;
/// Most entries in the visitor's presence data (`presence(map)`), merged.
pub const MAX_PRESENCE_DATA_ENTRIES: usize = 32;
/// `connect(maxAttempts)` with this value tries forever (the Glance SDK's `-1`).
pub const ATTEMPTS_FOREVER: i32 = -1;
/// Longest visitor name.
pub const MAX_NAME: usize = 63;
/// Longest visitor email.
pub const MAX_EMAIL: usize = 127;
/// Longest visitor phone.
pub const MAX_PHONE: usize = 31;
/// Longest visitor token.
pub const MAX_TOKEN: usize = 1024;
/// Longest custom session key (`[A-Za-z0-9-_]`, base64url characters).
pub const MAX_SESSION_KEY: usize = 63;
/// Longest presence signal event name, map key or map value.
pub const MAX_SIGNAL_TEXT: usize = 255;
/// Most entries in a presence signal map.
pub const MAX_SIGNAL_ENTRIES: usize = 16;
/// The largest `maxGuests` a session can be started with: `GlanceStartParams.maxGuests` is a
/// `short` (spec.md §3.3).
pub const MAX_GUESTS: i32 = i16::MAX as i32;

/// The limits a visitor id is held to: the Glance SDK's have changed between versions, and an
/// id shared with a web page must also be a valid web session key (spec.md §3.3a). Every
/// [`ParameterError::VisitorId`] names the profile it was judged by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Limits {
    /// Glance 5.x (`Glance_iOS.h`, help.glance.net): 1–62 characters of `[A-Za-z0-9-_~]`.
    /// The default.
    #[default]
    Glance5,
    /// The newer, GlanceCore-era header: 1–100 characters of `[A-Za-z0-9-_~]`.
    GlanceCore,
    /// An id that is also a Glance web session key: 1–50 characters of `[A-Za-z0-9-_]`
    /// (no `~`).
    WebCompatible,
}

impl Limits {
    /// Every profile.
    pub const ALL: [Limits; 3] = [Limits::Glance5, Limits::GlanceCore, Limits::WebCompatible];

    /// The profile's name (`glance5`, `glance_core`, `web_compatible`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Limits::Glance5 => "glance5",
            Limits::GlanceCore => "glance_core",
            Limits::WebCompatible => "web_compatible",
        }
    }

    /// The profile with this name.
    pub fn parse(name: &str) -> Option<Limits> {
        Limits::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Longest visitor id, in characters.
    pub const fn max_visitor_id(self) -> usize {
        match self {
            Limits::Glance5 => MAX_VISITOR_ID,
            Limits::GlanceCore => MAX_VISITOR_ID_CORE,
            Limits::WebCompatible => MAX_VISITOR_ID_WEB,
        }
    }

    /// The characters a visitor id may have, as the error message prints them.
    pub const fn visitor_id_chars(self) -> &'static str {
        match self {
            Limits::Glance5 | Limits::GlanceCore => "A-Z a-z 0-9 - _ ~",
            Limits::WebCompatible => "A-Z a-z 0-9 - _",
        }
    }

    /// Checks a visitor id against this profile.
    pub fn validate_visitor_id(self, id: &str) -> Result<(), ParameterError> {
        let tilde = !matches!(self, Limits::WebCompatible);
        let ok = !id.is_empty()
            && id.len() <= self.max_visitor_id()
            && id.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') || (tilde && b == b'~')
            });
        if ok {
            Ok(())
        } else {
            Err(ParameterError::VisitorId { limits: self })
        }
    }
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The arguments of `init_visitor` (`GlanceVisitor.initVisitor`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct InitParams {
    /// The Glance group id: an `Int32`, as the seed's `initVisitor(groupId: Int32, …)`;
    /// valid from 1 to [`MAX_GROUP_ID`] ([`InitParams::validate`] refuses zero and
    /// negative ones). Fixed by the first `init_visitor` (`INV-GROUP-STABLE`).
    pub group_id: i32,
    /// Authentication token; empty when unused.
    #[serde(default)]
    pub token: String,
    /// Visitor name; empty when unknown.
    #[serde(default)]
    pub name: String,
    /// Visitor email; empty when unknown.
    #[serde(default)]
    pub email: String,
    /// Visitor phone; empty when unknown.
    #[serde(default)]
    pub phone: String,
    /// The visitor id of an identified (logged-in) customer; `None` before login.
    #[serde(default)]
    pub visitor_id: Option<String>,
}

impl InitParams {
    /// The pre-login call of the seed: a group id and nothing else.
    pub fn anonymous(group_id: i32) -> Self {
        InitParams {
            group_id,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: None,
        }
    }

    /// The after-login call of the seed: the same group id, and the visitor id.
    pub fn identified(group_id: i32, visitor_id: impl Into<String>) -> Self {
        InitParams {
            visitor_id: Some(visitor_id.into()),
            ..InitParams::anonymous(group_id)
        }
    }

    /// Checks every field against the SDK's rules, under the default [`Limits`].
    pub fn validate(&self) -> Result<(), ParameterError> {
        self.validate_for(Limits::default())
    }

    /// Checks every field against the SDK's rules, the visitor id under `limits`.
    pub fn validate_for(&self, limits: Limits) -> Result<(), ParameterError> {
        if self.group_id < MIN_GROUP_ID {
            return Err(ParameterError::GroupId);
        }
        check_len(&self.token, MAX_TOKEN, ParameterError::Token)?;
        check_len(&self.name, MAX_NAME, ParameterError::Name)?;
        check_len(&self.email, MAX_EMAIL, ParameterError::Email)?;
        check_len(&self.phone, MAX_PHONE, ParameterError::Phone)?;
        if let Some(id) = &self.visitor_id {
            limits.validate_visitor_id(id)?;
        }
        Ok(())
    }
}

/// Which key `start_session` asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum StartKey {
    /// `startSession("GLANCE_KEYTYPE_RANDOM")`: the server picks a numeric key.
    Random,
    /// `startSession()`: the visitor id is the key (a random key when there is none).
    #[default]
    VisitorId,
    /// `startSession(key)`: the app's own key.
    Custom(String),
}

/// How a session is started: `GlanceStartParams`' options besides the key (spec.md §3.3).
///
/// The default is a session any number of agents may join (the service's own limit), not
/// paused, kept across an app restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StartOptions {
    /// `maxGuests`: at most this many agents may join (1 to [`MAX_GUESTS`]); `None` (absent in
    /// JSON) leaves it to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_guests: Option<i32>,
    /// `paused`: the session starts paused (as if `pause(true)` came with its start).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// `persist`: [`crate::Sdk::snapshot`] keeps the running session for the next app launch
    /// (spec.md §5.6); `false` ends it at the service on that launch instead. The default is
    /// `true` (absent in JSON), where the Glance SDK's zeroed `GlanceStartParams` has `false`:
    /// a snapshot exists to continue sessions, and an app that does not want that says so.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub persist: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            max_guests: None,
            paused: false,
            persist: true,
        }
    }
}

impl StartOptions {
    /// Whether these are the defaults (nothing to write in JSON).
    pub fn is_default(&self) -> bool {
        *self == StartOptions::default()
    }

    /// Checks the options against the SDK's rules: `max_guests` 1 to [`MAX_GUESTS`].
    pub fn validate(&self) -> Result<(), ParameterError> {
        match self.max_guests {
            Some(n) if !(1..=MAX_GUESTS).contains(&n) => Err(ParameterError::MaxGuests),
            _ => Ok(()),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

/// `startSession(GlanceStartParams)`: the key and the options a session is started with. Its
/// JSON is flat, as the contract's `api` record has it: `{"call": "start_session", "key": …,
/// "max_guests": 2, "paused": true, "persist": false}`, each option absent at its default.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "StartParamsJson", into = "StartParamsJson")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StartParams {
    /// The key asked for.
    pub key: StartKey,
    /// The options.
    pub options: StartOptions,
}

impl From<StartKey> for StartParams {
    fn from(key: StartKey) -> Self {
        StartParams {
            key,
            options: StartOptions::default(),
        }
    }
}

/// [`StartParams`] as its JSON has it: one flat record.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartParamsJson {
    #[serde(
        default = "start_key_default",
        skip_serializing_if = "StartKey::is_visitor_id",
        serialize_with = "ser_start_key",
        deserialize_with = "de_start_key"
    )]
    key: StartKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_guests: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    paused: bool,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    persist: bool,
}

impl From<StartParamsJson> for StartParams {
    fn from(j: StartParamsJson) -> Self {
        StartParams {
            key: j.key,
            options: StartOptions {
                max_guests: j.max_guests,
                paused: j.paused,
                persist: j.persist,
            },
        }
    }
}

impl From<StartParams> for StartParamsJson {
    fn from(p: StartParams) -> Self {
        StartParamsJson {
            key: p.key,
            max_guests: p.options.max_guests,
            paused: p.options.paused,
            persist: p.options.persist,
        }
    }
}

/// One call into the SDK's API.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ApiCall {
    /// `GlanceVisitor.initVisitor(groupId, token, name, email, phone[, visitorid])`.
    InitVisitor(InitParams),
    /// `GlanceVisitor.defaultUI(enabled)`.
    SetDefaultUi {
        /// Whether the SDK draws its own UI.
        enabled: bool,
    },
    /// `GlanceVisitor.startSession([key])` / `startSession(GlanceStartParams)`: the key
    /// (absent in JSON for the no-argument form) and the options.
    StartSession(StartParams),
    /// `GlanceVisitor.endSession()`.
    EndSession,
    /// `GlancePresenceVisitor.connect()` / `connect(maxAttempts)`: at most `max_attempts`
    /// connect attempts, [`ATTEMPTS_FOREVER`] (`-1`, the default; absent in JSON) for no
    /// bound.
    PresenceConnect {
        /// Attempts before presence gives up; `-1` forever, else at least 1.
        #[serde(
            default = "attempts_forever",
            skip_serializing_if = "is_attempts_forever"
        )]
        max_attempts: i32,
    },
    /// `GlancePresenceVisitor.setDefaultUI(enabled)`.
    PresenceSetDefaultUi {
        /// Whether the SDK draws its own presence UI (the terms dialog).
        enabled: bool,
    },
    /// `GlancePresenceVisitor.signalAgent(event, map)`.
    PresenceSignalAgent {
        /// The signal's name, e.g. `terms`.
        event: String,
        /// The signal's properties, e.g. `{"status": "displayed"}`.
        #[serde(default)]
        map: BTreeMap<String, String>,
    },
    /// `GlancePresenceVisitor.disconnect()`.
    PresenceDisconnect,
    /// `GlancePresenceVisitor.presence(map)`: visitor data for the agent's view (the page,
    /// the app's state), merged into what was sent before.
    PresenceData {
        /// Entries to add or replace.
        map: BTreeMap<String, String>,
    },
    /// `GlancePresenceVisitor.signalVisibility(visible)`: whether the visitor can see the
    /// app's content (beyond the foreground / background the core reports itself).
    PresenceSignalVisibility {
        /// Visible to the customer.
        visible: bool,
    },
    /// `GlanceVisitor.pause(pause)`: pause or unpause the running session (the agent sees
    /// no screen while paused).
    Pause {
        /// `true` to pause, `false` to unpause.
        paused: bool,
    },
    /// `sendUserMessage(name, properties)`: a message to the session's agents.
    SendUserMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        #[serde(default)]
        map: BTreeMap<String, String>,
    },
    /// `setUserState(name, value)`: a named state the agents see, kept for the session.
    SetUserState {
        /// The state's name.
        name: String,
        /// Its value.
        value: String,
    },
}

fn attempts_forever() -> i32 {
    ATTEMPTS_FOREVER
}

fn is_attempts_forever(n: &i32) -> bool {
    *n == ATTEMPTS_FOREVER
}

impl ApiCall {
    /// The call's name (prints as the contract's `init_visitor`, `start_session`, …).
    pub fn name(&self) -> CallName {
        match self {
            ApiCall::InitVisitor(_) => CallName::InitVisitor,
            ApiCall::SetDefaultUi { .. } => CallName::SetDefaultUi,
            ApiCall::StartSession(_) => CallName::StartSession,
            ApiCall::EndSession => CallName::EndSession,
            ApiCall::PresenceConnect { .. } => CallName::PresenceConnect,
            ApiCall::PresenceSetDefaultUi { .. } => CallName::PresenceSetDefaultUi,
            ApiCall::PresenceSignalAgent { .. } => CallName::PresenceSignalAgent,
            ApiCall::PresenceDisconnect => CallName::PresenceDisconnect,
            ApiCall::PresenceData { .. } => CallName::PresenceData,
            ApiCall::PresenceSignalVisibility { .. } => CallName::PresenceSignalVisibility,
            ApiCall::Pause { .. } => CallName::Pause,
            ApiCall::SendUserMessage { .. } => CallName::SendUserMessage,
            ApiCall::SetUserState { .. } => CallName::SetUserState,
        }
    }

    /// `start_session` with `key` and the default [`StartOptions`].
    pub fn start_session(key: StartKey) -> ApiCall {
        ApiCall::StartSession(key.into())
    }

    /// `presence_connect()`: connect, retrying forever.
    pub const fn presence_connect() -> ApiCall {
        ApiCall::PresenceConnect {
            max_attempts: ATTEMPTS_FOREVER,
        }
    }

    /// `presence_signal_agent("terms", {"status": status})`.
    pub fn terms(status: TermsStatus) -> ApiCall {
        let mut map = BTreeMap::new();
        map.insert("status".to_owned(), status.as_str().to_owned());
        ApiCall::PresenceSignalAgent {
            event: TERMS_EVENT.to_owned(),
            map,
        }
    }
}

/// The name of an API call, without its arguments (the `call` of a transcript `api` record
/// and of `EventInvalidState` / `EventInvalidParameter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CallName {
    /// `init_visitor`
    InitVisitor,
    /// `set_default_ui`
    SetDefaultUi,
    /// `start_session`
    StartSession,
    /// `end_session`
    EndSession,
    /// `presence_connect`
    PresenceConnect,
    /// `presence_set_default_ui`
    PresenceSetDefaultUi,
    /// `presence_signal_agent`
    PresenceSignalAgent,
    /// `presence_disconnect`
    PresenceDisconnect,
    /// `presence_data`
    PresenceData,
    /// `presence_signal_visibility`
    PresenceSignalVisibility,
    /// `pause`
    Pause,
    /// `send_user_message`
    SendUserMessage,
    /// `set_user_state`
    SetUserState,
}

impl CallName {
    /// Every call name.
    pub const ALL: &'static [CallName] = &[
        CallName::InitVisitor,
        CallName::SetDefaultUi,
        CallName::StartSession,
        CallName::EndSession,
        CallName::PresenceConnect,
        CallName::PresenceSetDefaultUi,
        CallName::PresenceSignalAgent,
        CallName::PresenceDisconnect,
        CallName::PresenceData,
        CallName::PresenceSignalVisibility,
        CallName::Pause,
        CallName::SendUserMessage,
        CallName::SetUserState,
    ];

    /// The contract's name (`start_session`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CallName::InitVisitor => "init_visitor",
            CallName::SetDefaultUi => "set_default_ui",
            CallName::StartSession => "start_session",
            CallName::EndSession => "end_session",
            CallName::PresenceConnect => "presence_connect",
            CallName::PresenceSetDefaultUi => "presence_set_default_ui",
            CallName::PresenceSignalAgent => "presence_signal_agent",
            CallName::PresenceDisconnect => "presence_disconnect",
            CallName::PresenceData => "presence_data",
            CallName::PresenceSignalVisibility => "presence_signal_visibility",
            CallName::Pause => "pause",
            CallName::SendUserMessage => "send_user_message",
            CallName::SetUserState => "set_user_state",
        }
    }

    /// The call with this contract name.
    pub fn parse(name: &str) -> Option<CallName> {
        CallName::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for CallName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The presence signal name for the terms dialog.
pub const TERMS_EVENT: &str = "terms";

/// The `status` of a `terms` signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum TermsStatus {
    /// The terms are on screen.
    Displayed,
    /// The customer accepted screen sharing.
    Accepted,
    /// The customer declined screen sharing.
    Declined,
}

impl TermsStatus {
    /// The status's wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            TermsStatus::Displayed => "displayed",
            TermsStatus::Accepted => "accepted",
            TermsStatus::Declined => "declined",
        }
    }

    /// Parses a wire word.
    pub fn parse(s: &str) -> Option<TermsStatus> {
        match s {
            "displayed" => Some(TermsStatus::Displayed),
            "accepted" => Some(TermsStatus::Accepted),
            "declined" => Some(TermsStatus::Declined),
            _ => None,
        }
    }
}

impl StartKey {
    fn is_visitor_id(&self) -> bool {
        matches!(self, StartKey::VisitorId)
    }

    /// Reads the contract's `key` field: `GLANCE_KEYTYPE_RANDOM`, absent, or a custom key.
    pub fn from_arg(arg: Option<&str>) -> StartKey {
        match arg {
            None => StartKey::VisitorId,
            Some(GLANCE_KEYTYPE_RANDOM) => StartKey::Random,
            Some(k) => StartKey::Custom(k.to_owned()),
        }
    }

    /// The contract's `key` field for this key.
    pub fn as_arg(&self) -> Option<&str> {
        match self {
            StartKey::Random => Some(GLANCE_KEYTYPE_RANDOM),
            StartKey::VisitorId => None,
            StartKey::Custom(k) => Some(k),
        }
    }
}

fn start_key_default() -> StartKey {
    StartKey::VisitorId
}

fn ser_start_key<S: Serializer>(key: &StartKey, s: S) -> Result<S::Ok, S::Error> {
    key.as_arg().serialize(s)
}

fn de_start_key<'de, D: Deserializer<'de>>(d: D) -> Result<StartKey, D::Error> {
    let arg: Option<String> = Option::deserialize(d)?;
    Ok(StartKey::from_arg(arg.as_deref()))
}

/// A field that breaks the SDK's rules; the SDK answers `EventInvalidParameter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParameterError {
    /// The group id is zero or negative.
    #[error("group id must be positive ({}..={})", MIN_GROUP_ID, MAX_GROUP_ID)]
    GroupId,
    /// The visitor id is empty, too long or has a character its [`Limits`] do not allow.
    #[error(
        "visitor id must be 1 to {} characters of {} (limits {})",
        limits.max_visitor_id(),
        limits.visitor_id_chars(),
        limits
    )]
    VisitorId {
        /// The profile the id was judged by.
        limits: Limits,
    },
    /// The name is longer than 63 characters.
    #[error("name must be at most {} characters", MAX_NAME)]
    Name,
    /// The email is longer than 127 characters.
    #[error("email must be at most {} characters", MAX_EMAIL)]
    Email,
    /// The phone is longer than 31 characters.
    #[error("phone must be at most {} characters", MAX_PHONE)]
    Phone,
    /// The token is longer than 1024 characters.
    #[error("token must be at most {} characters", MAX_TOKEN)]
    Token,
    /// A custom session key is empty, too long, not base64url, or `GLANCE_KEYTYPE_RANDOM`.
    #[error(
        "session key must be 1 to {} characters of A-Z a-z 0-9 - _, not {}",
        MAX_SESSION_KEY,
        GLANCE_KEYTYPE_RANDOM
    )]
    SessionKey,
    /// A signal's event name is empty or too long.
    #[error("signal event must be 1 to {} characters", MAX_SIGNAL_TEXT)]
    SignalEvent,
    /// A signal's map has too many entries, or a key or value too long.
    #[error(
        "signal map must have at most {} entries of at most {} characters",
        MAX_SIGNAL_ENTRIES,
        MAX_SIGNAL_TEXT
    )]
    SignalMap,
    /// A `terms` signal without a `status` of displayed, accepted or declined.
    #[error("terms signal needs status displayed, accepted or declined")]
    TermsStatus,
    /// `maxGuests` below 1 or above [`MAX_GUESTS`].
    #[error("max guests must be 1 to {}", MAX_GUESTS)]
    MaxGuests,
    /// `connect(maxAttempts)` with 0 or a negative number other than -1.
    #[error("max attempts must be -1 (forever) or at least 1")]
    MaxAttempts,
    /// Presence data with a key or value too long, or more entries than allowed once merged.
    #[error(
        "presence data must have at most {} entries of at most {} characters, merged",
        MAX_PRESENCE_DATA_ENTRIES,
        MAX_SIGNAL_TEXT
    )]
    PresenceData,
    /// A user message's name is empty or too long, or its map breaks the signal map's
    /// limits.
    #[error(
        "user message name must be 1 to {} characters, its map at most {} entries of at most {} characters",
        MAX_SIGNAL_TEXT,
        MAX_SIGNAL_ENTRIES,
        MAX_SIGNAL_TEXT
    )]
    UserMessage,
    /// A user state's name is empty or too long, its value too long, or more states than
    /// allowed once merged.
    #[error(
        "user state name must be 1 to {} characters, its value at most {}, at most {} states",
        MAX_SIGNAL_TEXT,
        MAX_SIGNAL_TEXT,
        MAX_SIGNAL_ENTRIES
    )]
    UserState,
}

fn check_len(s: &str, max: usize, err: ParameterError) -> Result<(), ParameterError> {
    if s.chars().count() > max {
        Err(err)
    } else {
        Ok(())
    }
}

/// A visitor id under the default [`Limits`]: 1–62 characters of `[A-Za-z0-9-_~]`.
pub fn validate_visitor_id(id: &str) -> Result<(), ParameterError> {
    Limits::default().validate_visitor_id(id)
}

/// A user message: a name of 1–255 characters and a map within the signal map's limits.
pub fn validate_user_message(
    name: &str,
    map: &BTreeMap<String, String>,
) -> Result<(), ParameterError> {
    let short = |t: &str| t.chars().count() <= MAX_SIGNAL_TEXT;
    if name.is_empty()
        || !short(name)
        || map.len() > MAX_SIGNAL_ENTRIES
        || map.iter().any(|(k, v)| !short(k) || !short(v))
    {
        Err(ParameterError::UserMessage)
    } else {
        Ok(())
    }
}

/// A user state merged into `current`: a name of 1–255 characters, a value of at most 255,
/// at most [`MAX_SIGNAL_ENTRIES`] states once merged.
pub fn validate_user_state(
    current: &BTreeMap<String, String>,
    name: &str,
    value: &str,
) -> Result<(), ParameterError> {
    let merged = current.len() + usize::from(!current.contains_key(name));
    if name.is_empty()
        || name.chars().count() > MAX_SIGNAL_TEXT
        || value.chars().count() > MAX_SIGNAL_TEXT
        || merged > MAX_SIGNAL_ENTRIES
    {
        Err(ParameterError::UserState)
    } else {
        Ok(())
    }
}

/// `connect(maxAttempts)`: `-1` (forever) or at least 1.
pub fn validate_max_attempts(n: i32) -> Result<Option<u32>, ParameterError> {
    match n {
        ATTEMPTS_FOREVER => Ok(None),
        n if n >= 1 => Ok(u32::try_from(n).ok()),
        _ => Err(ParameterError::MaxAttempts),
    }
}

/// Presence data merged into `current`: each key and value at most [`MAX_SIGNAL_TEXT`]
/// characters, at most [`MAX_PRESENCE_DATA_ENTRIES`] entries once merged.
pub fn validate_presence_data(
    current: &BTreeMap<String, String>,
    map: &BTreeMap<String, String>,
) -> Result<(), ParameterError> {
    let too_long = map
        .iter()
        .any(|(k, v)| k.chars().count() > MAX_SIGNAL_TEXT || v.chars().count() > MAX_SIGNAL_TEXT);
    let merged = current.len() + map.keys().filter(|k| !current.contains_key(*k)).count();
    if too_long || merged > MAX_PRESENCE_DATA_ENTRIES {
        Err(ParameterError::PresenceData)
    } else {
        Ok(())
    }
}

/// A custom session key is 1–63 base64url characters (`[A-Za-z0-9-_]`), other than
/// [`GLANCE_KEYTYPE_RANDOM`], which asks for a random key (a transcript could not tell the
/// two apart).
pub fn validate_session_key(key: &str) -> Result<(), ParameterError> {
    let ok = !key.is_empty()
        && key != GLANCE_KEYTYPE_RANDOM
        && key.len() <= MAX_SESSION_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ParameterError::SessionKey)
    }
}

/// A presence signal: a non-empty event name and a small map of short strings; a `terms`
/// signal also needs a valid `status`.
pub fn validate_signal(
    event: &str,
    map: &BTreeMap<String, String>,
) -> Result<Option<TermsStatus>, ParameterError> {
    if event.is_empty() || event.chars().count() > MAX_SIGNAL_TEXT {
        return Err(ParameterError::SignalEvent);
    }
    if map.len() > MAX_SIGNAL_ENTRIES
        || map.iter().any(|(k, v)| {
            k.chars().count() > MAX_SIGNAL_TEXT || v.chars().count() > MAX_SIGNAL_TEXT
        })
    {
        return Err(ParameterError::SignalMap);
    }
    if event == TERMS_EVENT {
        let status = map
            .get("status")
            .and_then(|s| TermsStatus::parse(s))
            .ok_or(ParameterError::TermsStatus)?;
        return Ok(Some(status));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_key_json_follows_the_contract() {
        let random: ApiCall =
            serde_json::from_str(r#"{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}"#)
                .unwrap();
        assert_eq!(random, ApiCall::start_session(StartKey::Random));
        let bare: ApiCall = serde_json::from_str(r#"{"call":"start_session"}"#).unwrap();
        assert_eq!(bare, ApiCall::start_session(StartKey::VisitorId));
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"call":"start_session"}"#
        );
        let custom: ApiCall =
            serde_json::from_str(r#"{"call":"start_session","key":"abc"}"#).unwrap();
        assert_eq!(
            custom,
            ApiCall::start_session(StartKey::Custom("abc".into()))
        );
    }

    #[test]
    fn init_visitor_json_follows_the_contract() {
        let line = r#"{"call":"init_visitor","group_id":19921,"token":"","name":"","email":"","phone":"","visitor_id":null}"#;
        let call: ApiCall = serde_json::from_str(line).unwrap();
        assert_eq!(call, ApiCall::InitVisitor(InitParams::anonymous(19921)));
        assert_eq!(serde_json::to_string(&call).unwrap(), line);
        assert!(
            serde_json::from_str::<ApiCall>(r#"{"call":"init_visitor","group_id":1,"x":1}"#)
                .is_err()
        );
    }

    #[test]
    fn visitor_id_rules() {
        assert!(validate_visitor_id("cust-42_~").is_ok());
        assert!(validate_visitor_id(&"a".repeat(62)).is_ok());
        let bad = Err(ParameterError::VisitorId {
            limits: Limits::Glance5,
        });
        assert_eq!(validate_visitor_id(&"a".repeat(63)), bad);
        assert_eq!(validate_visitor_id(""), bad);
        assert_eq!(validate_visitor_id("a b"), bad);
        assert_eq!(validate_visitor_id("é"), bad);
    }

    #[test]
    fn visitor_id_profiles() {
        for (limits, max, tilde) in [
            (Limits::Glance5, 62, true),
            (Limits::GlanceCore, 100, true),
            (Limits::WebCompatible, 50, false),
        ] {
            assert_eq!(limits.max_visitor_id(), max);
            assert!(limits.validate_visitor_id(&"a".repeat(max)).is_ok());
            let err = Err(ParameterError::VisitorId { limits });
            assert_eq!(limits.validate_visitor_id(&"a".repeat(max + 1)), err);
            assert_eq!(limits.validate_visitor_id("a~b").is_ok(), tilde);
            let message = ParameterError::VisitorId { limits }.to_string();
            assert!(message.contains(&max.to_string()), "{message}");
            assert!(message.contains(limits.as_str()), "{message}");
            assert_eq!(Limits::parse(limits.as_str()), Some(limits));
        }
        assert_eq!(Limits::default(), Limits::Glance5);
    }

    #[test]
    fn connect_attempts_and_presence_data() {
        assert_eq!(validate_max_attempts(-1), Ok(None));
        assert_eq!(validate_max_attempts(3), Ok(Some(3)));
        for bad in [0, -2, i32::MIN] {
            assert_eq!(validate_max_attempts(bad), Err(ParameterError::MaxAttempts));
        }
        let bare: ApiCall = serde_json::from_str(r#"{"call":"presence_connect"}"#).unwrap();
        assert_eq!(bare, ApiCall::presence_connect());
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"call":"presence_connect"}"#
        );
        let three: ApiCall =
            serde_json::from_str(r#"{"call":"presence_connect","max_attempts":3}"#).unwrap();
        assert_eq!(three, ApiCall::PresenceConnect { max_attempts: 3 });
        let full: BTreeMap<String, String> = (0..MAX_PRESENCE_DATA_ENTRIES)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        let one_more = BTreeMap::from([("new".to_owned(), String::new())]);
        let replace = BTreeMap::from([("0".to_owned(), "x".to_owned())]);
        assert_eq!(
            validate_presence_data(&full, &one_more),
            Err(ParameterError::PresenceData)
        );
        assert_eq!(validate_presence_data(&full, &replace), Ok(()));
        let long = BTreeMap::from([("k".to_owned(), "v".repeat(MAX_SIGNAL_TEXT + 1))]);
        assert_eq!(
            validate_presence_data(&BTreeMap::new(), &long),
            Err(ParameterError::PresenceData)
        );
    }

    #[test]
    fn field_lengths() {
        let mut p = InitParams::anonymous(1);
        p.name = "n".repeat(63);
        p.email = "e".repeat(127);
        p.phone = "p".repeat(31);
        assert!(p.validate().is_ok());
        p.name.push('n');
        assert_eq!(p.validate(), Err(ParameterError::Name));
        p.name.pop();
        p.email.push('e');
        assert_eq!(p.validate(), Err(ParameterError::Email));
        p.email.pop();
        p.phone.push('p');
        assert_eq!(p.validate(), Err(ParameterError::Phone));
        assert_eq!(
            InitParams::anonymous(0).validate(),
            Err(ParameterError::GroupId)
        );
    }

    #[test]
    fn group_id_is_a_positive_int32() {
        for bad in [0, -1, -5, i32::MIN] {
            assert_eq!(
                InitParams::anonymous(bad).validate(),
                Err(ParameterError::GroupId),
                "{bad}"
            );
        }
        for good in [1, 19921, i32::MAX] {
            assert_eq!(InitParams::anonymous(good).validate(), Ok(()), "{good}");
        }
        assert_eq!(
            ParameterError::GroupId.to_string(),
            "group id must be positive (1..=2147483647)"
        );
        // a negative one reads from the contract's JSON (an Int32), to be refused by the SDK
        let call: ApiCall =
            serde_json::from_str(r#"{"call":"init_visitor","group_id":-5}"#).unwrap();
        assert_eq!(call, ApiCall::InitVisitor(InitParams::anonymous(-5)));
        assert!(serde_json::from_str::<ApiCall>(
            r#"{"call":"init_visitor","group_id":2147483648}"#
        )
        .is_err());
    }

    #[test]
    fn session_key_rules() {
        assert!(validate_session_key("Ab-_9").is_ok());
        assert!(validate_session_key(&"k".repeat(63)).is_ok());
        assert!(validate_session_key(&"k".repeat(64)).is_err());
        assert!(validate_session_key("a~b").is_err());
        assert!(validate_session_key("").is_err());
    }

    #[test]
    fn signal_rules() {
        let call = ApiCall::terms(TermsStatus::Accepted);
        let ApiCall::PresenceSignalAgent { event, map } = call else {
            unreachable!()
        };
        assert_eq!(
            validate_signal(&event, &map),
            Ok(Some(TermsStatus::Accepted))
        );
        assert_eq!(
            validate_signal("terms", &BTreeMap::new()),
            Err(ParameterError::TermsStatus)
        );
        assert_eq!(
            validate_signal("", &BTreeMap::new()),
            Err(ParameterError::SignalEvent)
        );
        assert_eq!(validate_signal("ping", &BTreeMap::new()), Ok(None));
    }
}
