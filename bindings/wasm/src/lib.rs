//! # cobrowse-visitor-wasm
//!
//! The sans-IO cobrowse visitor core for JavaScript through wasm-bindgen. `Sdk` and
//! `Controller` are classes; inputs and outputs are plain tagged objects, exactly the JSON of
//! the replay vectors (spec.md §14): `{api: {call: "start_session", key:
//! "GLANCE_KEYTYPE_RANDOM"}}`, `{frame: {type: "settings", v: 1, key_length: 4}}`, `{event:
//! {type: "connected_to_session", sessionkey, keytype}}`, `{transmit: {type: "init", …}}`,
//! `{connect: {}}`, `{timeout: 15040}`. A refusal is thrown as an `Error` whose `code` is the
//! spec's (`not_initialized`, …). Time stays an input (`nowMs`); nothing here reads a clock
//! or opens a socket. No `unsafe` is written here (wasm-bindgen generates its glue).
//!
//! Across an app restart (spec.md §5.6, §6.1): `sdk.snapshot(unixMs)` and
//! `controller.snapshot()` give JSON text for the app's storage (`undefined` when there is
//! nothing to continue); on the next launch `Sdk.restore(config, snapshotJson, groupId, nowMs,
//! unixMs)` and `Controller.restore(config, snapshotJson, sdk)` build the machines again, or
//! throw a `RestoreError` whose `kind` is the core's (`version`, `group_id`, `corrupt`), having
//! built nothing.
#![forbid(unsafe_code)]

use cobrowse_visitor_core as core;
use cobrowse_visitor_vectors::{
    ControllerConfigJson, ControllerInputJson, ControllerOutputJson, EventJson, SdkConfigJson,
    SdkInput,
};
use core::{ClientFrame, ControllerInput, Input, Instant, Output};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** The SDK core's timer durations (spec.md §7), in milliseconds. */
export interface SdkConfig {
  init_timeout_ms: number; start_timeout_ms: number; end_timeout_ms: number;
  session_grace_ms: number; presence_connect_timeout_ms: number;
  presence_backoff_base_ms: number; presence_backoff_max_ms: number;
  reconnect_backoff_base_ms: number; reconnect_backoff_max_ms: number;
  background_suspend_ms: number; default_key_length: number;
  /** spec.md §3.3a; "terms_required" when absent. */
  consent_policy?: "terms_required" | "agent_may_start";
  /** spec.md §3.3a; "glance5" when absent. */
  limits?: "glance5" | "glance_core" | "web_compatible";
}
/** `GlanceStartParams`' options (spec.md §3.3), each at its default when absent. */
export interface StartOptions {
  /** At most this many agents may join: 1..=32767; absent leaves it to the service. */
  max_guests?: number;
  /** The session starts paused; default false. */
  paused?: boolean;
  /** A snapshot keeps the running session for the next launch; default true. */
  persist?: boolean;
}

/** `group_id`: an Int32, as the seed's; the core refuses zero and negative ones. */
export interface ControllerConfig {
  group_id: number; custom_ui: boolean;
  /** The SDK core's limits (spec.md §3.3a): login ids are judged by them; "glance5" when absent. */
  limits?: "glance5" | "glance_core" | "web_compatible";
  /** The options every session the controller starts is started with (spec.md §3.3). */
  start?: StartOptions;
}
/** An API call, as the contract's `api` record. `key`: absent (the visitor id), "GLANCE_KEYTYPE_RANDOM" or a custom key. */
export type ApiCall =
  | { call: "init_visitor"; group_id: number; token?: string; name?: string; email?: string; phone?: string; visitor_id?: string | null }
  | { call: "set_default_ui"; enabled: boolean }
  | ({ call: "start_session"; key?: string } & StartOptions)
  | { call: "end_session" }
  | { call: "presence_connect"; max_attempts?: number }
  | { call: "presence_set_default_ui"; enabled: boolean }
  | { call: "presence_signal_agent"; event: string; map?: Record<string, string> }
  | { call: "presence_disconnect" }
  | { call: "presence_data"; map: Record<string, string> }
  | { call: "presence_signal_visibility"; visible: boolean }
  | { call: "pause"; paused: boolean }
  | { call: "send_user_message"; name: string; map?: Record<string, string> }
  | { call: "set_user_state"; name: string; value: string };
/** A server frame (spec.md §8.2). */
export type ServerFrame =
  | { type: "settings"; v: number; key_length: number; agent_start?: boolean }
  | { type: "init_failed"; reason: string }
  | { type: "session_started"; sessionkey: string }
  | { type: "session_refused"; reason: string }
  | { type: "guest_count"; guestcount: number }
  | { type: "session_ended"; reason: string }
  | { type: "presence_connected" }
  | { type: "presence_connect_failed"; reason: string }
  | { type: "presence_show_terms"; request_id: number }
  | { type: "presence_blur" }
  | { type: "presence_signal"; event: string; map: Record<string, string> }
  | { type: "presence_start_session"; request_id: number }
  | { type: "presence_not_configured" }
  | { type: "user_message"; name: string; map: Record<string, string> };
/** A client frame (spec.md §8.1); send `JSON.stringify(frame)`. */
export type ClientFrame =
  | { type: "init"; v: number; group_id: number; token: string; name: string; email: string; phone: string; visitor_id: string | null }
  | { type: "start_session"; key: string | null; max_guests?: number; paused?: boolean }
  | { type: "end_session" }
  | { type: "resume_session"; sessionkey: string }
  | { type: "presence_connect"; visitor_id: string }
  | { type: "presence_disconnect" }
  | { type: "presence_signal"; event: string; map: Record<string, string>; request_id: number | null }
  | { type: "app_state"; foreground: boolean }
  | { type: "presence_data"; map: Record<string, string> }
  | { type: "presence_visibility"; visible: boolean }
  | { type: "pause"; paused: boolean }
  | { type: "user_message"; name: string; map: Record<string, string> }
  | { type: "user_state"; state: Record<string, string> };
export type KeyType = "random" | "visitor_id" | "custom";
export type Lifecycle = "background" | "foreground" | "terminate";
export type NetworkChange = "lost" | "restored";
/** An SDK event. */
export type SdkEvent =
  | { type: "visitor_initialized"; settings_loaded: boolean }
  | { type: "connected_to_session"; sessionkey: string; keytype: KeyType }
  | { type: "guest_count_change"; guestcount: number }
  | { type: "session_ended"; reason: string }
  | { type: "start_session_failed"; reason: string }
  | { type: "invalid_parameter"; call: string; code: string }
  | { type: "invalid_state"; call: string; code: string }
  | { type: "presence_connected" }
  | { type: "presence_connect_fail"; reason: string; retry_ms: number | null }
  | { type: "presence_show_terms"; request_id: number }
  | { type: "presence_disconnected" }
  | { type: "presence_blur" }
  | { type: "connection_warning" }
  | { type: "clear_warning" }
  | { type: "presence_signal"; event: string; map: Record<string, string> }
  | { type: "presence_start_session"; request_id: number }
  | { type: "presence_not_configured" }
  | { type: "presence_send_fail"; call: string; code: string }
  | { type: "message_received"; name: string; map: Record<string, string> };
/** `relaunch` is a replay vector's step (spec.md §14), not an input: `handleInput` refuses it
 * (a replay builds the next core with `Sdk.restore`, or `new Sdk` when not `restored`). */
export type SdkInput =
  | { api: ApiCall } | { frame: ServerFrame } | { bytes: string }
  | { lifecycle: Lifecycle } | { network: NetworkChange } | { timeout: {} }
  | { relaunch: { away_ms: number; restored: boolean } };
/** `timeout` ends a drain: the next deadline in ms, or null. */
export type SdkOutput =
  | { event: SdkEvent } | { transmit: ClientFrame } | { connect: {} } | { timeout: number | null };
export type UserIntent =
  | "launch" | "tap_cobrowse" | { login: { visitor_id: string } } | "accept_terms"
  | "decline_terms" | "end_session" | "logout" | "exit"
  | { presence_data: { map: Record<string, string> } } | "toggle_pause"
  | { send_message: { name: string; map: Record<string, string> } }
  | { set_user_state: { name: string; value: string } };
export type UiElement =
  | "cobrowse_button" | "session_key" | "terms" | "session_indicator" | "session_paused";
export type UiDirective = { show: UiElement; key?: string } | { hide: UiElement };
/** `relaunch` is a replay vector's step (spec.md §14), not an input: `handleInput` refuses it
 * (a replay builds the next controller with `Controller.restore`, or `new Controller`). */
export type ControllerInput =
  | { user: UserIntent } | { lifecycle: Lifecycle } | { event: SdkEvent }
  | { relaunch: { sdk_snapshot: string | null; unix_ms: number } };
export type ControllerOutput =
  | { call: ApiCall } | { ui: UiDirective }
  | { agent_signal: { event: string; map: Record<string, string> } }
  | { agent_message: { name: string; map: Record<string, string> } };
/** What is thrown: an Error with the spec's refusal code (spec.md §9). */
export interface CobrowseError extends Error { code: string; }
/** What `Sdk.restore` and `Controller.restore` throw for a snapshot they refuse whole
 * (spec.md §5.6): written by another format or crate version, of another group than the
 * app's, or not a snapshot (truncated, edited). Nothing was restored. */
export interface RestoreError extends Error {
  name: "RestoreError";
  kind: "version" | "group_id" | "corrupt";
}
"#;

/// An output with the drain's end.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum JsOutput {
    Event(EventJson),
    Transmit(ClientFrame),
    Connect {},
    Timeout(Option<u64>),
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| refusal("invalid_value", &e.to_string()))
}

fn from_js<T: for<'de> Deserialize<'de>>(v: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| refusal("invalid_value", &e.to_string()))
}

/// An `Error` with `code` set.
fn refusal(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("CobrowseError");
    // setting a property on a fresh Error cannot fail
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// An `Error` named `RestoreError` with `kind` set to the core's [`core::RestoreError`]:
/// `version`, `group_id` or `corrupt`.
fn restore_error(e: &core::RestoreError) -> JsValue {
    let kind = match e {
        core::RestoreError::Version { .. } => "version",
        core::RestoreError::GroupId { .. } => "group_id",
        // `Corrupt`, and whatever a later core adds (the enum is non-exhaustive): refused
        _ => "corrupt",
    };
    let error = js_sys::Error::new(&e.to_string());
    error.set_name("RestoreError");
    // setting a property on a fresh Error cannot fail
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &kind.into());
    error.into()
}

fn unknown(e: cobrowse_visitor_vectors::Unknown) -> JsValue {
    refusal("invalid_value", &e.to_string())
}

/// The spec's default timer durations.
#[wasm_bindgen(js_name = defaultSdkConfig, unchecked_return_type = "SdkConfig")]
pub fn default_sdk_config() -> Result<JsValue, JsValue> {
    to_js(&SdkConfigJson::from(&core::SdkConfig::default()))
}

/// The wire text of a client frame (spec.md §8).
#[wasm_bindgen(js_name = encodeClientFrame)]
pub fn encode_client_frame(
    #[wasm_bindgen(unchecked_param_type = "ClientFrame")] frame: JsValue,
) -> Result<String, JsValue> {
    let f: ClientFrame = from_js(frame)?;
    Ok(String::from_utf8_lossy(&f.encode()).into_owned())
}

/// The SDK core. After every input, drain `pollOutput()` until it returns `{timeout}`.
#[wasm_bindgen]
pub struct Sdk {
    inner: core::Sdk,
}

#[wasm_bindgen]
impl Sdk {
    /// A new core; the spec's timer durations when `config` is omitted.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SdkConfig | undefined")] config: JsValue,
    ) -> Result<Sdk, JsValue> {
        Ok(Sdk {
            inner: core::Sdk::new(sdk_config(config)?),
        })
    }

    /// A snapshot of what must survive an app restart (spec.md §5.6), as JSON text for the
    /// app's storage, at wall-clock `unixMs` (e.g. `Date.now()`); `undefined` before the first
    /// `visitor_initialized` and after `terminate` (nothing to continue). Throws a
    /// `CobrowseError` (`invalid_value`) when `unixMs` is not a non-negative safe integer.
    #[wasm_bindgen]
    pub fn snapshot(
        &self,
        #[wasm_bindgen(js_name = unixMs)] unix_ms: f64,
    ) -> Result<Option<String>, JsValue> {
        let unix_ms = millis(unix_ms, "unixMs")?;
        Ok(self.inner.snapshot(unix_ms).map(|s| s.to_json()))
    }

    /// The core for the next app launch from a `snapshot`'s JSON text (spec.md §5.6, rows
    /// S-R01–S-R04), for the app's `groupId`, at the new process's `nowMs` and wall-clock
    /// `unixMs`; the spec's timer durations when `config` is omitted. Drain `pollOutput()` at
    /// once: it asks for a connection (`{connect: {}}`) and says the link is not up yet.
    ///
    /// Throws a `RestoreError` whose `kind` is `version` (another format or crate version),
    /// `group_id` (another group than `groupId`) or `corrupt` (not a snapshot: truncated,
    /// edited); nothing is restored then. Throws a `CobrowseError` (`invalid_value`) for an
    /// unusable argument (a config that is not one, `groupId` not an Int32, a time that is not
    /// a non-negative safe integer).
    #[wasm_bindgen]
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "SdkConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = snapshotJson)] snapshot_json: &str,
        #[wasm_bindgen(js_name = groupId)] group_id: f64,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
        #[wasm_bindgen(js_name = unixMs)] unix_ms: f64,
    ) -> Result<Sdk, JsValue> {
        let config = sdk_config(config)?;
        let group_id = int32(group_id, "groupId")?;
        let now = instant(now_ms)?;
        let unix_ms = millis(unix_ms, "unixMs")?;
        let snapshot = core::Snapshot::from_json(snapshot_json).map_err(|e| restore_error(&e))?;
        let inner = core::Sdk::restore(config, snapshot, group_id, now, unix_ms)
            .map_err(|e| restore_error(&e))?;
        Ok(Sdk { inner })
    }

    /// Handles one input at `nowMs`; throws a `CobrowseError` when refused.
    #[wasm_bindgen(js_name = handleInput)]
    pub fn handle_input(
        &mut self,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
        #[wasm_bindgen(unchecked_param_type = "SdkInput")] input: JsValue,
    ) -> Result<(), JsValue> {
        let at = instant(now_ms)?;
        let result = match from_js::<SdkInput>(input)? {
            SdkInput::Api(c) => self.inner.handle_input(at, Input::Api(c)),
            SdkInput::Frame(f) => self.inner.handle_input(at, Input::Frame(f)),
            SdkInput::Bytes(b) => self.inner.handle_bytes(at, b.as_bytes()),
            SdkInput::Lifecycle(l) => self.inner.handle_input(at, Input::Lifecycle(l)),
            SdkInput::Network(n) => self.inner.handle_input(at, Input::Network(n)),
            SdkInput::Timeout {} => self.inner.handle_input(at, Input::Timeout),
            // not an input of the core: a vector's relaunch replaces the core
            SdkInput::Relaunch { .. } => {
                return Err(refusal(
                    "invalid_value",
                    "relaunch is not an input: the app restores a new core from a snapshot",
                ))
            }
        };
        result.map_err(|e| refusal(e.code().as_str(), &e.to_string()))
    }

    /// Decodes server bytes (a `Uint8Array` from the socket) and handles the frame.
    #[wasm_bindgen(js_name = handleBytes)]
    pub fn handle_bytes(
        &mut self,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
        bytes: &[u8],
    ) -> Result<(), JsValue> {
        self.inner
            .handle_bytes(instant(now_ms)?, bytes)
            .map_err(|e| refusal(e.code().as_str(), &e.to_string()))
    }

    /// The next output; `{timeout: ms | null}` when the queue is empty.
    #[wasm_bindgen(js_name = pollOutput, unchecked_return_type = "SdkOutput")]
    pub fn poll_output(&mut self) -> Result<JsValue, JsValue> {
        let o = match self.inner.poll_output() {
            Output::Event(e) => JsOutput::Event((&e).into()),
            Output::Transmit(f) => JsOutput::Transmit(f),
            Output::Connect => JsOutput::Connect {},
            Output::Timeout(t) => JsOutput::Timeout(t.map(Instant::as_millis)),
        };
        to_js(&o)
    }

    /// The earliest armed timer, or null.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|t| t.as_millis() as f64)
    }

    /// The rows of spec.md §5 the last input went through (`S-A20`, …).
    #[wasm_bindgen(js_name = lastRows)]
    pub fn last_rows(&self) -> Vec<String> {
        self.inner
            .last_rows()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    /// The whole state (spec.md §4.1) as a plain object.
    #[wasm_bindgen]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.state())
    }
}

fn instant(now_ms: f64) -> Result<Instant, JsValue> {
    millis(now_ms, "nowMs").map(Instant::from_millis)
}

/// `ms` as milliseconds: a non-negative safe integer (a fraction is cut, as before).
fn millis(ms: f64, name: &str) -> Result<u64, JsValue> {
    if (0.0..=9_007_199_254_740_991.0).contains(&ms) {
        Ok(ms as u64)
    } else {
        Err(refusal(
            "invalid_value",
            &format!("{name} must be a non-negative safe integer"),
        ))
    }
}

/// `n` as an Int32 (a group id, as the seed's): an integer in −2147483648..=2147483647.
fn int32(n: f64, name: &str) -> Result<i32, JsValue> {
    if n.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&n) {
        Ok(n as i32)
    } else {
        Err(refusal(
            "invalid_value",
            &format!("{name} must be an integer in -2147483648..=2147483647"),
        ))
    }
}

/// The SDK configuration a JS caller gave, or the spec's when omitted.
fn sdk_config(config: JsValue) -> Result<core::SdkConfig, JsValue> {
    if config.is_undefined() || config.is_null() {
        Ok(core::SdkConfig::default())
    } else {
        Ok(core::SdkConfig::from(&from_js::<SdkConfigJson>(config)?))
    }
}

/// The controller configuration a JS caller gave, or the seed's when omitted.
fn controller_config(config: JsValue) -> Result<core::ControllerConfig, JsValue> {
    if config.is_undefined() || config.is_null() {
        Ok(core::ControllerConfig::default())
    } else {
        Ok(core::ControllerConfig::from(&from_js::<
            ControllerConfigJson,
        >(config)?))
    }
}

/// The integration controller: feed each `{call}` output to the `Sdk`, each SDK event back.
#[wasm_bindgen]
pub struct Controller {
    inner: core::Controller,
}

#[wasm_bindgen]
impl Controller {
    /// A new controller; the seed's group and custom UI when `config` is omitted.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ControllerConfig | undefined")] config: JsValue,
    ) -> Result<Controller, JsValue> {
        Ok(Controller {
            inner: core::Controller::new(controller_config(config)?),
        })
    }

    /// A snapshot of the controller for the next app launch (spec.md §6.1), as JSON text;
    /// `undefined` before `launch` and after `exit` (the next launch starts anew).
    #[wasm_bindgen]
    pub fn snapshot(&self) -> Option<String> {
        self.inner.snapshot().map(|s| s.to_json())
    }

    /// The controller for the next app launch, in place of `launch` (spec.md §6.1, row
    /// C-R01), from its `snapshot`'s JSON text, next to `sdk`, the core `Sdk.restore` gave
    /// (a manual session's key is shown again from it); the seed's group and custom UI when
    /// `config` is omitted. Drain `pollOutput()` at once: it draws the screen again and
    /// connects presence when the customer is logged in. `sdk` stays the caller's.
    ///
    /// Throws a `RestoreError` whose `kind` is `version`, `group_id` (another group than
    /// `config`'s) or `corrupt` (not a snapshot, or one not taken while running); nothing is
    /// restored then. Throws a `CobrowseError` (`invalid_value`) for a config that is not one.
    #[wasm_bindgen]
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "ControllerConfig | undefined")] config: JsValue,
        #[wasm_bindgen(js_name = snapshotJson)] snapshot_json: &str,
        sdk: &Sdk,
    ) -> Result<Controller, JsValue> {
        let config = controller_config(config)?;
        let snapshot =
            core::ControllerSnapshot::from_json(snapshot_json).map_err(|e| restore_error(&e))?;
        let inner = core::Controller::restore(config, snapshot, &sdk.inner)
            .map_err(|e| restore_error(&e))?;
        Ok(Controller { inner })
    }

    /// Handles one input; throws a `CobrowseError` when a user intent is refused.
    #[wasm_bindgen(js_name = handleInput)]
    pub fn handle_input(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ControllerInput")] input: JsValue,
    ) -> Result<(), JsValue> {
        let input: ControllerInputJson = from_js(input)?;
        let input = ControllerInput::try_from(&input).map_err(unknown)?;
        self.inner
            .handle_input(input)
            .map_err(|e| refusal(e.code().as_str(), &e.to_string()))
    }

    /// The next output, or `undefined` when there is none.
    #[wasm_bindgen(js_name = pollOutput, unchecked_return_type = "ControllerOutput | undefined")]
    pub fn poll_output(&mut self) -> Result<JsValue, JsValue> {
        match self.inner.poll_output() {
            Some(o) => to_js(&ControllerOutputJson::from(&o)),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The rows of spec.md §6 the last input went through.
    #[wasm_bindgen(js_name = lastRows)]
    pub fn last_rows(&self) -> Vec<String> {
        self.inner
            .last_rows()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    /// The state (spec.md §4.2) as a plain object.
    #[wasm_bindgen]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.state())
    }
}
