//! # Replay vectors
//!
//! The language-neutral JSON of the inputs of the SDK core ([`Sdk`]) and of the integration
//! controller ([`Controller`]), each with the outputs it must produce, one file per seed
//! journey (`vectors/journeys/*.json`, generated from `scenarios/` by the simulator; the
//! format is spec.md §14, "Replay vectors"). Any SDK, in any language, replays them against
//! its own implementation; the bindings' tests replay them through UniFFI and wasm-bindgen.
//!
//! This module holds the format ([`Vector`] and the value types, whose serde form *is* the
//! format), the conversions from and to the core's types, and [`replay`], the reference
//! replayer. The generator is [`generate`] (feature `generate`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use cobrowse_visitor_core::{
    ApiCall, CallName, ClientFrame, ConsentPolicy, Controller, ControllerConfig, ControllerInput,
    ControllerOutput, ErrorCode, Event, Input, Instant, KeyType, Lifecycle, Limits, NetworkChange,
    Output, Sdk, SdkConfig, ServerFrame, StartOptions, UiDirective, UserIntent,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[cfg(feature = "generate")]
pub mod generate;

/// The format's name and version, the first field of every vector.
pub const FORMAT: &str = "cobrowse-replay/1";

/// One journey's vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// [`FORMAT`].
    pub format: String,
    /// The journey's name (the scenario's file stem).
    pub journey: String,
    /// The scenario it was generated from, relative to the repository root.
    pub scenario: String,
    /// The SDK core's timer durations.
    pub sdk_config: SdkConfigJson,
    /// The controller's configuration.
    pub controller_config: ControllerConfigJson,
    /// Every SDK-core input, in order, from a new `Sdk` with `sdk_config`.
    pub sdk: Vec<SdkStep>,
    /// Every controller input, in order, from a new `Controller` with `controller_config`.
    pub controller: Vec<ControllerStep>,
}

/// [`SdkConfig`] in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SdkConfigJson {
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
    /// The consent policy (spec.md §3.3a); absent when it is the default, so a vector of a
    /// journey that does not set it reads as before.
    #[serde(default, skip_serializing_if = "is_default")]
    pub consent_policy: ConsentPolicy,
    /// The limits profile (§3.3a); absent when it is the default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<&SdkConfig> for SdkConfigJson {
    fn from(c: &SdkConfig) -> Self {
        SdkConfigJson {
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
            consent_policy: c.consent_policy,
            limits: c.limits,
        }
    }
}

impl From<&SdkConfigJson> for SdkConfig {
    fn from(c: &SdkConfigJson) -> Self {
        let d = Duration::from_millis;
        SdkConfig {
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
            consent_policy: c.consent_policy,
            limits: c.limits,
        }
    }
}

/// [`ControllerConfig`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ControllerConfigJson {
    pub group_id: i32,
    pub custom_ui: bool,
    /// Absent for the default profile (`glance5`), so earlier vectors read the same.
    #[serde(default, skip_serializing_if = "is_default_limits")]
    pub limits: Limits,
    /// The start options (`ControllerConfig::start`); absent at the defaults, so earlier
    /// vectors read the same.
    #[serde(default, skip_serializing_if = "StartOptions::is_default")]
    pub start: StartOptions,
}

fn is_default_limits(l: &Limits) -> bool {
    *l == Limits::default()
}

impl From<&ControllerConfig> for ControllerConfigJson {
    fn from(c: &ControllerConfig) -> Self {
        ControllerConfigJson {
            group_id: c.group_id,
            custom_ui: c.custom_ui,
            limits: c.limits,
            start: c.start,
        }
    }
}

impl From<&ControllerConfigJson> for ControllerConfig {
    fn from(c: &ControllerConfigJson) -> Self {
        ControllerConfig {
            group_id: c.group_id,
            custom_ui: c.custom_ui,
            limits: c.limits,
            start: c.start,
        }
    }
}

/// One SDK-core input and what it must produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkStep {
    /// `now`, in milliseconds.
    pub now: u64,
    /// The input.
    pub input: SdkInput,
    /// `null` when accepted, else the refusal's code (spec.md §9).
    pub error: Option<String>,
    /// Every output drained after it, up to (without) the final `Timeout`.
    pub outputs: Vec<SdkOutput>,
    /// The final `Timeout`'s deadline, in milliseconds; `null` for `Timeout(None)`.
    pub timeout: Option<u64>,
    /// `last_rows()`, as row IDs.
    pub rows: Vec<String>,
}

/// An SDK-core input (`Input`, or bytes for `handle_bytes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SdkInput {
    /// `Input::Api`: the contract's `api` record (`{"call": "start_session", ...}`).
    Api(ApiCall),
    /// `Input::Frame`: the wire frame (spec.md §8.2).
    Frame(ServerFrame),
    /// `handle_bytes` with these UTF-8 bytes.
    Bytes(String),
    /// `Input::Lifecycle`.
    Lifecycle(Lifecycle),
    /// `Input::Network`.
    Network(NetworkChange),
    /// `Input::Timeout`.
    Timeout {},
    /// The app process was killed and relaunched (spec.md §5.6, §13.2 `relaunch`): the core
    /// is replaced by `Sdk::restore(sdk_config, snapshot, group_id, now, now)` of the
    /// snapshot the current core gives at `now − away_ms` (`Sdk::snapshot`), or by a new
    /// `Sdk` when `restored` is `false`; the outputs are what the new core queued.
    Relaunch {
        /// How long the app was away, in milliseconds.
        away_ms: u64,
        /// Whether the new core was restored (else new).
        restored: bool,
    },
}

/// An SDK-core output other than the final `Timeout`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SdkOutput {
    /// `Output::Event`.
    Event(EventJson),
    /// `Output::Transmit`: the wire frame (spec.md §8.1).
    Transmit(ClientFrame),
    /// `Output::Connect`.
    Connect {},
}

/// An [`Event`], tagged by `type` (the variant in snake_case), with its fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)]
pub enum EventJson {
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
        call: String,
        code: String,
    },
    InvalidState {
        call: String,
        code: String,
    },
    PresenceConnected {},
    PresenceConnectFail {
        reason: String,
        /// Absent after the last attempt of `connect(maxAttempts)`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_ms: Option<u64>,
    },
    PresenceShowTerms {
        request_id: u64,
    },
    PresenceDisconnected {},
    PresenceBlur {},
    ConnectionWarning {},
    ClearWarning {},
    PresenceSignal {
        event: String,
        map: BTreeMap<String, String>,
    },
    PresenceStartSession {
        request_id: u64,
    },
    PresenceNotConfigured {},
    PresenceSendFail {
        call: String,
        code: String,
    },
    MessageReceived {
        name: String,
        map: BTreeMap<String, String>,
    },
}

/// A name or code the core does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown(pub String);

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown name or code `{}`", self.0)
    }
}

impl std::error::Error for Unknown {}

impl From<&Event> for EventJson {
    fn from(e: &Event) -> Self {
        use EventJson as J;
        match e {
            Event::VisitorInitialized { settings_loaded } => J::VisitorInitialized {
                settings_loaded: *settings_loaded,
            },
            Event::ConnectedToSession {
                sessionkey,
                keytype,
            } => J::ConnectedToSession {
                sessionkey: sessionkey.clone(),
                keytype: *keytype,
            },
            Event::GuestCountChange { guestcount } => J::GuestCountChange {
                guestcount: *guestcount,
            },
            Event::SessionEnded { reason } => J::SessionEnded {
                reason: reason.clone(),
            },
            Event::StartSessionFailed { reason } => J::StartSessionFailed {
                reason: reason.clone(),
            },
            Event::InvalidParameter { call, code } => J::InvalidParameter {
                call: call.as_str().to_owned(),
                code: code.as_str().to_owned(),
            },
            Event::InvalidState { call, code } => J::InvalidState {
                call: call.as_str().to_owned(),
                code: code.as_str().to_owned(),
            },
            Event::PresenceConnected => J::PresenceConnected {},
            Event::PresenceConnectFail { reason, retry_ms } => J::PresenceConnectFail {
                reason: reason.clone(),
                retry_ms: *retry_ms,
            },
            Event::PresenceShowTerms { request_id } => J::PresenceShowTerms {
                request_id: *request_id,
            },
            Event::PresenceDisconnected => J::PresenceDisconnected {},
            Event::PresenceBlur => J::PresenceBlur {},
            Event::ConnectionWarning => J::ConnectionWarning {},
            Event::ClearWarning => J::ClearWarning {},
            Event::PresenceSignal { event, map } => J::PresenceSignal {
                event: event.clone(),
                map: map.clone(),
            },
            Event::PresenceStartSession { request_id } => J::PresenceStartSession {
                request_id: *request_id,
            },
            Event::PresenceNotConfigured => J::PresenceNotConfigured {},
            Event::PresenceSendFail { call, code } => J::PresenceSendFail {
                call: call.as_str().to_owned(),
                code: code.as_str().to_owned(),
            },
            Event::MessageReceived { name, map } => J::MessageReceived {
                name: name.clone(),
                map: map.clone(),
            },
            // `Event` is non-exhaustive; a new variant must be added to the format first
            #[allow(unreachable_patterns)]
            _ => J::ConnectionWarning {},
        }
    }
}

fn call_name(s: &str) -> Result<CallName, Unknown> {
    CallName::parse(s).ok_or_else(|| Unknown(s.to_owned()))
}

fn error_code(s: &str) -> Result<ErrorCode, Unknown> {
    ErrorCode::parse(s).ok_or_else(|| Unknown(s.to_owned()))
}

impl TryFrom<&EventJson> for Event {
    type Error = Unknown;
    fn try_from(e: &EventJson) -> Result<Self, Unknown> {
        use EventJson as J;
        Ok(match e {
            J::VisitorInitialized { settings_loaded } => Event::VisitorInitialized {
                settings_loaded: *settings_loaded,
            },
            J::ConnectedToSession {
                sessionkey,
                keytype,
            } => Event::ConnectedToSession {
                sessionkey: sessionkey.clone(),
                keytype: *keytype,
            },
            J::GuestCountChange { guestcount } => Event::GuestCountChange {
                guestcount: *guestcount,
            },
            J::SessionEnded { reason } => Event::SessionEnded {
                reason: reason.clone(),
            },
            J::StartSessionFailed { reason } => Event::StartSessionFailed {
                reason: reason.clone(),
            },
            J::InvalidParameter { call, code } => Event::InvalidParameter {
                call: call_name(call)?,
                code: error_code(code)?,
            },
            J::InvalidState { call, code } => Event::InvalidState {
                call: call_name(call)?,
                code: error_code(code)?,
            },
            J::PresenceConnected {} => Event::PresenceConnected,
            J::PresenceConnectFail { reason, retry_ms } => Event::PresenceConnectFail {
                reason: reason.clone(),
                retry_ms: *retry_ms,
            },
            J::PresenceShowTerms { request_id } => Event::PresenceShowTerms {
                request_id: *request_id,
            },
            J::PresenceDisconnected {} => Event::PresenceDisconnected,
            J::PresenceBlur {} => Event::PresenceBlur,
            J::ConnectionWarning {} => Event::ConnectionWarning,
            J::ClearWarning {} => Event::ClearWarning,
            J::PresenceSignal { event, map } => Event::PresenceSignal {
                event: event.clone(),
                map: map.clone(),
            },
            J::PresenceStartSession { request_id } => Event::PresenceStartSession {
                request_id: *request_id,
            },
            J::PresenceNotConfigured {} => Event::PresenceNotConfigured,
            J::PresenceSendFail { call, code } => Event::PresenceSendFail {
                call: call_name(call)?,
                code: error_code(code)?,
            },
            J::MessageReceived { name, map } => Event::MessageReceived {
                name: name.clone(),
                map: map.clone(),
            },
        })
    }
}

impl SdkOutput {
    /// The format of an output; `None` for the final `Timeout`.
    pub fn from_output(o: &Output) -> Option<SdkOutput> {
        match o {
            Output::Event(e) => Some(SdkOutput::Event(e.into())),
            Output::Transmit(f) => Some(SdkOutput::Transmit(f.clone())),
            Output::Connect => Some(SdkOutput::Connect {}),
            Output::Timeout(_) => None,
        }
    }
}

/// One controller input and what it must produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerStep {
    /// The input.
    pub input: ControllerInputJson,
    /// `null` when accepted, else the refusal's code.
    pub error: Option<String>,
    /// Every output drained after it (`poll_output` until `None`).
    pub outputs: Vec<ControllerOutputJson>,
    /// `last_rows()`, as row IDs.
    pub rows: Vec<String>,
}

/// A controller input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ControllerInputJson {
    /// `ControllerInput::User`: `"launch"`, `{"login": {"visitor_id": "..."}}`, ….
    User(UserIntent),
    /// `ControllerInput::Lifecycle`.
    Lifecycle(Lifecycle),
    /// `ControllerInput::Event`.
    Event(EventJson),
    /// The app process was killed and relaunched (spec.md §6.1): the controller is replaced
    /// by `Controller::restore(controller_config, snapshot, &sdk)` of its own snapshot, `sdk`
    /// being the core restored from `sdk_snapshot` (JSON, `Snapshot::to_json`) at wall-clock
    /// `unix_ms`; by a new `Controller` when `sdk_snapshot` is `null`.
    Relaunch {
        /// The SDK core's snapshot the app was restored from.
        sdk_snapshot: Option<String>,
        /// The wall clock at the relaunch, in milliseconds.
        unix_ms: u64,
    },
}

impl From<&ControllerInput> for ControllerInputJson {
    fn from(i: &ControllerInput) -> Self {
        match i {
            ControllerInput::User(u) => ControllerInputJson::User(u.clone()),
            ControllerInput::Lifecycle(l) => ControllerInputJson::Lifecycle(*l),
            ControllerInput::Event(e) => ControllerInputJson::Event(e.into()),
        }
    }
}

impl TryFrom<&ControllerInputJson> for ControllerInput {
    type Error = Unknown;
    fn try_from(i: &ControllerInputJson) -> Result<Self, Unknown> {
        Ok(match i {
            ControllerInputJson::User(u) => ControllerInput::User(u.clone()),
            ControllerInputJson::Lifecycle(l) => ControllerInput::Lifecycle(*l),
            ControllerInputJson::Event(e) => ControllerInput::Event(e.try_into()?),
            ControllerInputJson::Relaunch { .. } => {
                return Err(Unknown("relaunch (not a controller input)".to_owned()))
            }
        })
    }
}

/// A controller output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ControllerOutputJson {
    /// `ControllerOutput::Call`: the contract's `api` record.
    Call(ApiCall),
    /// `ControllerOutput::Ui`: the contract's `ui` record (`{"show": "terms"}`).
    Ui(UiDirective),
    /// `ControllerOutput::AgentSignal`: the agent's custom signal, handed to the app (no
    /// transcript record).
    AgentSignal {
        /// The signal's name.
        event: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// `ControllerOutput::AgentMessage`: an agent's message in the session, handed to the
    /// app (no transcript record).
    AgentMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
}

impl From<&ControllerOutput> for ControllerOutputJson {
    fn from(o: &ControllerOutput) -> Self {
        match o {
            ControllerOutput::Call(c) => ControllerOutputJson::Call(c.clone()),
            ControllerOutput::Ui(u) => ControllerOutputJson::Ui(u.clone()),
            ControllerOutput::AgentSignal { event, map } => ControllerOutputJson::AgentSignal {
                event: event.clone(),
                map: map.clone(),
            },
            ControllerOutput::AgentMessage { name, map } => ControllerOutputJson::AgentMessage {
                name: name.clone(),
                map: map.clone(),
            },
        }
    }
}

/// Feeds the SDK core one step's input and drains it into the step it produced.
pub fn sdk_step(sdk: &mut Sdk, now: u64, input: SdkInput) -> Result<SdkStep, Unknown> {
    sdk_step_in(sdk, None, now, input)
}

/// [`sdk_step`] in a vector's context: the SDK configuration and the app's group id, which a
/// [`SdkInput::Relaunch`] needs (without them it is [`Unknown`]).
pub fn sdk_step_in(
    sdk: &mut Sdk,
    context: Option<(&SdkConfig, i32)>,
    now: u64,
    input: SdkInput,
) -> Result<SdkStep, Unknown> {
    let at = Instant::from_millis(now);
    if let SdkInput::Relaunch { away_ms, restored } = &input {
        let (config, group_id) =
            context.ok_or_else(|| Unknown("relaunch without a vector's context".to_owned()))?;
        let saved = now.saturating_sub(*away_ms);
        *sdk = match (restored, sdk.snapshot(saved)) {
            (true, Some(snapshot)) => Sdk::restore(config.clone(), snapshot, group_id, at, now)
                .map_err(|e| Unknown(format!("restore: {e}")))?,
            (true, None) => return Err(Unknown("relaunch: no snapshot to restore".to_owned())),
            (false, _) => Sdk::new(config.clone()),
        };
    }
    let result = match &input {
        SdkInput::Relaunch { .. } => Ok(()),
        SdkInput::Api(c) => sdk.handle_input(at, Input::Api(c.clone())),
        SdkInput::Frame(f) => sdk.handle_input(at, Input::Frame(f.clone())),
        SdkInput::Bytes(b) => sdk.handle_bytes(at, b.as_bytes()),
        SdkInput::Lifecycle(l) => sdk.handle_input(at, Input::Lifecycle(*l)),
        SdkInput::Network(n) => sdk.handle_input(at, Input::Network(*n)),
        SdkInput::Timeout {} => sdk.handle_input(at, Input::Timeout),
    };
    let rows = sdk.last_rows().iter().map(|r| r.to_string()).collect();
    let mut outputs = Vec::new();
    let timeout = loop {
        match sdk.poll_output() {
            Output::Timeout(t) => break t.map(Instant::as_millis),
            o => outputs.extend(SdkOutput::from_output(&o)),
        }
    };
    Ok(SdkStep {
        now,
        input,
        error: result.err().map(|e| e.code().as_str().to_owned()),
        outputs,
        timeout,
        rows,
    })
}

/// Gives the controller one step's input and drains it into the step it produced.
pub fn controller_step(
    controller: &mut Controller,
    input: ControllerInputJson,
) -> Result<ControllerStep, Unknown> {
    controller_step_in(controller, None, input)
}

/// [`controller_step`] in a vector's context: the controller's and the SDK core's
/// configurations, which a [`ControllerInputJson::Relaunch`] needs (without them it is
/// [`Unknown`]).
pub fn controller_step_in(
    controller: &mut Controller,
    context: Option<(&ControllerConfig, &SdkConfig)>,
    input: ControllerInputJson,
) -> Result<ControllerStep, Unknown> {
    let result = if let ControllerInputJson::Relaunch {
        sdk_snapshot,
        unix_ms,
    } = &input
    {
        let (config, sdk_config) =
            context.ok_or_else(|| Unknown("relaunch without a vector's context".to_owned()))?;
        *controller = match (sdk_snapshot, controller.snapshot()) {
            (Some(text), Some(mine)) => {
                let snapshot = cobrowse_visitor_core::Snapshot::from_json(text)
                    .map_err(|e| Unknown(format!("snapshot: {e}")))?;
                let at = Instant::from_millis(*unix_ms);
                let sdk = Sdk::restore(sdk_config.clone(), snapshot, config.group_id, at, *unix_ms)
                    .map_err(|e| Unknown(format!("restore: {e}")))?;
                Controller::restore(config.clone(), mine, &sdk)
                    .map_err(|e| Unknown(format!("restore: {e}")))?
            }
            _ => Controller::new(config.clone()),
        };
        Ok(())
    } else {
        controller.handle_input(ControllerInput::try_from(&input)?)
    };
    let rows = controller
        .last_rows()
        .iter()
        .map(|r| r.to_string())
        .collect();
    let mut outputs = Vec::new();
    while let Some(o) = controller.poll_output() {
        outputs.push(ControllerOutputJson::from(&o));
    }
    Ok(ControllerStep {
        input,
        error: result.err().map(|e| e.code().as_str().to_owned()),
        outputs,
        rows,
    })
}

/// Where a replay first differed from its vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// `sdk` or `controller`.
    pub machine: &'static str,
    /// The 0-based step.
    pub step: usize,
    /// What the vector says.
    pub expected: String,
    /// What the replay produced.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} step {}: expected {}, got {}",
            self.machine, self.step, self.expected, self.got
        )
    }
}

/// Replays a vector through the Rust core, step by step, record for record: the reference
/// replayer the bindings' replays mirror.
pub fn replay(v: &Vector) -> Result<(), Mismatch> {
    let text = |x: &dyn erased::Json| x.json();
    let sdk_config = SdkConfig::from(&v.sdk_config);
    let controller_config = ControllerConfig::from(&v.controller_config);
    let mut sdk = Sdk::new(sdk_config.clone());
    for (i, want) in v.sdk.iter().enumerate() {
        let context = Some((&sdk_config, controller_config.group_id));
        let got =
            sdk_step_in(&mut sdk, context, want.now, want.input.clone()).map_err(|e| Mismatch {
                machine: "sdk",
                step: i,
                expected: text(want),
                got: e.to_string(),
            })?;
        if &got != want {
            return Err(Mismatch {
                machine: "sdk",
                step: i,
                expected: text(want),
                got: text(&got),
            });
        }
    }
    let mut controller = Controller::new(controller_config.clone());
    for (i, want) in v.controller.iter().enumerate() {
        let context = Some((&controller_config, &sdk_config));
        let got =
            controller_step_in(&mut controller, context, want.input.clone()).map_err(|e| {
                Mismatch {
                    machine: "controller",
                    step: i,
                    expected: text(want),
                    got: e.to_string(),
                }
            })?;
        if &got != want {
            return Err(Mismatch {
                machine: "controller",
                step: i,
                expected: text(want),
                got: text(&got),
            });
        }
    }
    Ok(())
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// Writes a vector as its committed text: pretty JSON, one field per line, and a final
/// newline.
pub fn to_text(v: &Vector) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
