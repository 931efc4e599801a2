//! The contract's JSON Lines formats (`../shared/contract/README.md`): scenario steps (what
//! happens) and transcript records (what was observed), with a parser that names the line
//! and what it expected.

use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::Event;
use cobrowse_visitor_core::{
    ClientFrame, ConsentPolicy, KeyType, Limits, ServerFrame, StartOptions,
};
use cobrowse_visitor_core::{Lifecycle, NetworkChange};
use cobrowse_visitor_core::{UiDirective, UserIntent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use thiserror::Error;

/// Longest line the parsers read, in bytes (a guard against unbounded input).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Longest `advance_ms` a scenario step may ask for: 7 days. The simulator fires every due
/// timer on the way (a reconnect attempt every 16 s while offline), so the work of a step
/// grows with its span; this keeps a step to some 40 000 timer firings.
pub const MAX_ADVANCE_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The largest group id: the seed's `initVisitor` takes an `Int32`.
pub const MAX_GROUP_ID: i32 = cobrowse_visitor_core::MAX_GROUP_ID;

/// The kinds of a transcript record: a record has `step` and exactly one of these.
pub const RECORD_KINDS: [&str; 6] = ["api", "send", "recv", "event", "ui", "error"];

/// The fields an `api` call of each name may have (besides `call`), and which of them it
/// must have.
fn api_fields(call: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match call {
        "init_visitor" => (
            &["group_id", "token", "name", "email", "phone", "visitor_id"],
            &["group_id"],
        ),
        "set_default_ui" | "presence_set_default_ui" => (&["enabled"], &["enabled"]),
        "start_session" => (&["key", "max_guests", "paused", "persist"], &[]),
        "presence_signal_agent" => (&["event", "map"], &["event"]),
        "presence_connect" => (&["max_attempts"], &[]),
        "presence_data" => (&["map"], &["map"]),
        "presence_signal_visibility" => (&["visible"], &["visible"]),
        "end_session" | "presence_disconnect" => (&[], &[]),
        "pause" => (&["paused"], &["paused"]),
        "send_user_message" => (&["name", "map"], &["name"]),
        "set_user_state" => (&["name", "value"], &["name", "value"]),
        _ => return None,
    })
}

/// Reads an `api` call (a scenario's `api` step or a transcript's `api` record) strictly:
/// a known `call`, only that call's fields, and a group id in the seed's `Int32` range (any
/// of it: a zero or negative one is the app's misuse, and reaches the core, which refuses it).
/// Every call is read by the same rules, so no field is ever dropped silently.
pub fn parse_api(v: &Value) -> Result<ApiCall, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| "bad api call: expected an object {\"call\": …}".to_owned())?;
    let call = obj
        .get("call")
        .and_then(Value::as_str)
        .ok_or_else(|| "bad api call: expected a string field `call`".to_owned())?;
    let (allowed, required) = api_fields(call).ok_or_else(|| {
        format!(
            "bad api call: unknown call `{call}`, expected init_visitor, set_default_ui, start_session, end_session, presence_connect, presence_set_default_ui, presence_signal_agent, presence_disconnect, presence_data, presence_signal_visibility, pause, send_user_message or set_user_state"
        )
    })?;
    if let Some(extra) = obj
        .keys()
        .find(|k| k.as_str() != "call" && !allowed.contains(&k.as_str()))
    {
        let expected = if allowed.is_empty() {
            "no other field".to_owned()
        } else {
            allowed.join(", ")
        };
        return Err(format!(
            "bad api call: unexpected field `{extra}` in `{call}`, expected {expected}"
        ));
    }
    if let Some(missing) = required.iter().find(|k| !obj.contains_key(**k)) {
        return Err(format!(
            "bad api call: `{call}` needs the field `{missing}`"
        ));
    }
    if let Some(n) = obj.get("group_id").and_then(whole_number) {
        if i32::try_from(n).is_err() {
            return Err(format!(
                "bad api call: group_id {n} is outside the seed's Int32 range ({}..={})",
                i32::MIN,
                i32::MAX
            ));
        }
    }
    serde_json::from_value(v.clone()).map_err(|e| format!("bad api call: {e}"))
}

/// A JSON whole number of any size, also one too large for serde_json's integers (which it
/// reads as a float); `None` for anything else, which serde then names.
fn whole_number(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && f.fract() == 0.0)
                // a saturating cast: any float beyond i128 is beyond the Int32 range too
                .map(|f| f as i128)
        })
}

/// Reads one transcript record's JSON object strictly (contract, "Reading a trace"): `step`
/// and exactly one of [`RECORD_KINDS`], and no other top-level field.
pub fn record_from_json(obj: &Map<String, Value>) -> Result<Record, String> {
    record_from_object(obj.clone())
}

/// [`record_from_json`], taking the object.
fn record_from_object(obj: Map<String, Value>) -> Result<Record, String> {
    record_fields(obj).map_err(|what| {
        format!(
            "expected a record {{\"step\": n, and exactly one of api, send, recv, event, ui, error}}: {what}"
        )
    })
}

fn record_fields(mut obj: Map<String, Value>) -> Result<Record, String> {
    if let Some(extra) = obj
        .keys()
        .find(|k| k.as_str() != "step" && !RECORD_KINDS.contains(&k.as_str()))
    {
        return Err(format!("unexpected field `{extra}`"));
    }
    let mut kinds = RECORD_KINDS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k));
    let kind = match (kinds.next(), kinds.next()) {
        (Some(k), None) => k,
        (None, _) => return Err("no record kind".to_owned()),
        (Some(_), Some(_)) => {
            let many: Vec<&str> = RECORD_KINDS
                .iter()
                .copied()
                .filter(|k| obj.contains_key(*k))
                .collect();
            return Err(format!(
                "two kinds in one record (`{}`)",
                many.join("` and `")
            ));
        }
    };
    let step = obj
        .get("step")
        .and_then(Value::as_u64)
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| "`step` must be a whole number (the 0-based scenario line)".to_owned())?;
    let val = obj.remove(kind).unwrap_or_default();
    let bad = |e: serde_json::Error| format!("bad `{kind}` record: {e}");
    let observed = match kind {
        "api" => Observed::Api(parse_api(&val)?),
        "send" => Observed::Send(WireFrame::from_json(val)),
        "recv" => Observed::Recv(WireFrame::from_json(val)),
        "event" => Observed::Event(serde_json::from_value(val).map_err(bad)?),
        "ui" => Observed::Ui(serde_json::from_value(val).map_err(bad)?),
        _ => Observed::Error(serde_json::from_value(val).map_err(bad)?),
    };
    Ok(Record { step, observed })
}

/// The optional first line of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// The group id the app uses: 1..=[`MAX_GROUP_ID`] (a positive `Int32`, as the seed's;
    /// [`Step::from_json`] refuses others).
    #[serde(default = "default_group")]
    pub group_id: i32,
    /// The app draws its own UI.
    #[serde(default = "default_true")]
    pub custom_ui: bool,
    /// Seeds the simulated server's random keys.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The app's consent policy (spec.md §3.3a, §13.1): whether an agent may start a session
    /// without the terms dialog when the group allows it too. Not written when it is the
    /// default, so a scenario without it writes the same config line as before.
    #[serde(default, skip_serializing_if = "is_default")]
    pub consent_policy: ConsentPolicy,
    /// The group's settings allow an agent start without terms (`settings.agent_start`,
    /// §13.1); default `false`, not written then.
    #[serde(default, skip_serializing_if = "is_default")]
    pub agent_start: bool,
    /// Presence is enabled for the group (§13.1): `false` makes the service answer
    /// `presence_connect` with `presence_not_configured`. Default `true`, not written then.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub presence: bool,
    /// The SDK's limits profile (§3.3a); default `glance5`, not written then.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
    /// The service's presence is down (§13.1): every `presence_connect` fails
    /// (`unavailable`). Default `false`, not written then.
    #[serde(default, skip_serializing_if = "is_default")]
    pub presence_unavailable: bool,
    /// The options the app's controller starts every session with (§13.1 `start_options`,
    /// [`StartOptions`]: `max_guests`, `paused`, `persist`). Default: none, not written then.
    #[serde(default, skip_serializing_if = "StartOptions::is_default")]
    pub start_options: StartOptions,
}

impl ScenarioConfig {
    /// Whether it sets a key of spec.md §13.1 (`consent_policy`, `agent_start`, `presence`,
    /// `limits`) to other than its default: then a plain trace of its run starts with the
    /// config line, since what `check` judges depends on it (INV-CONSENT-POLICY), and a
    /// scenario without one writes the same plain trace as before.
    pub fn beyond_contract(&self) -> bool {
        let d = ScenarioConfig::default();
        self.consent_policy != d.consent_policy
            || self.agent_start != d.agent_start
            || self.presence != d.presence
            || self.limits != d.limits
            || self.presence_unavailable != d.presence_unavailable
            || self.start_options != d.start_options
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn is_true(b: &bool) -> bool {
    *b
}

fn default_group() -> i32 {
    cobrowse_visitor_core::SEED_GROUP_ID
}
fn default_true() -> bool {
    true
}
fn default_seed() -> u64 {
    7
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            group_id: default_group(),
            custom_ui: true,
            seed: default_seed(),
            consent_policy: ConsentPolicy::default(),
            agent_start: false,
            presence: true,
            limits: Limits::default(),
            presence_unavailable: false,
            start_options: StartOptions::default(),
        }
    }
}

/// What the agent does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AgentAction {
    /// Joins the visitor's current session.
    Join,
    /// Leaves it.
    Leave,
    /// Clicks the one-click button on the customer's CRM record.
    StartPresenceSession,
    /// Ends the session.
    EndSession,
    /// Starts a session from the customer's record without the terms dialog
    /// (`presence_start_session`, §13.1); the SDK's consent policy decides (S-F25 / S-F26).
    StartWithoutTerms,
}

impl AgentAction {
    /// The contract's word for it, as in `{"agent": "start_presence_session"}`.
    pub fn name(self) -> &'static str {
        match self {
            AgentAction::Join => "join",
            AgentAction::Leave => "leave",
            AgentAction::StartPresenceSession => "start_presence_session",
            AgentAction::EndSession => "end_session",
            AgentAction::StartWithoutTerms => "start_without_terms",
        }
    }
}

/// One scenario line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Step {
    /// `{"config": {...}}`, first line only.
    Config(ScenarioConfig),
    /// `{"user": "..."}`.
    User(UserIntent),
    /// `{"lifecycle": "background" | "foreground"}`.
    Lifecycle(Lifecycle),
    /// `{"network": "lost" | "restored"}`.
    Network(NetworkChange),
    /// `{"agent": "..."}`.
    Agent(AgentAction),
    /// `{"agent": "signal", "event": "...", "map": {...}}`: the agent sends the visitor a
    /// custom signal (`presence_signal`, §13.1). Its own variant, so that [`AgentAction`]
    /// stays a plain word.
    AgentSignal {
        /// The signal's name: 1–255 characters, not `terms` (spec.md §8.2).
        event: String,
        /// Its properties: at most 16 entries of at most 255 characters, no key `event`.
        map: BTreeMap<String, String>,
    },
    /// `{"agent": "message", "name": "...", "map": {...}}`: an agent in the running session
    /// sends the visitor a user message (`user_message`, §13.2).
    AgentMessage {
        /// The message's name: 1–255 characters (spec.md §8.2).
        name: String,
        /// Its properties: at most 16 entries of at most 255 characters, no key `name`.
        map: BTreeMap<String, String>,
    },
    /// `{"relaunch": {"away_ms": n}}`: the app process is killed after the previous step
    /// settled and relaunched `away_ms` later (§13.2): the world snapshots the SDK core and
    /// the controller, the service sees the connection drop, and the app comes back with
    /// `Sdk::restore` and `Controller::restore`.
    Relaunch {
        /// How long the app is away, in milliseconds (at most [`MAX_ADVANCE_MS`]).
        away_ms: u64,
    },
    /// `{"advance_ms": n}`.
    AdvanceMs(u64),
    /// `{"api": {"call": ...}}`: a direct SDK call.
    Api(ApiCall),
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ScenarioConfig {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ScenarioConfig {
            group_id: if u.arbitrary()? {
                cobrowse_visitor_core::SEED_GROUP_ID
            } else {
                u.int_in_range(-1..=3)?
            },
            custom_ui: u.arbitrary()?,
            seed: u.arbitrary()?,
            consent_policy: u.arbitrary()?,
            agent_start: u.arbitrary()?,
            presence: u.arbitrary()?,
            limits: u.arbitrary()?,
            presence_unavailable: u.arbitrary()?,
            start_options: u.arbitrary()?,
        })
    }
}

impl Step {
    /// The step as its contract JSON line.
    pub fn to_json(&self) -> Value {
        match self {
            Step::Config(c) => json!({ "config": c }),
            Step::User(UserIntent::Login { visitor_id }) => {
                json!({"user": "login", "visitor_id": visitor_id})
            }
            Step::User(UserIntent::PresenceData { map }) => {
                json!({"user": "presence_data", "map": map})
            }
            Step::User(UserIntent::SendMessage { name, map }) => {
                json!({"user": "send_message", "name": name, "map": map})
            }
            Step::User(UserIntent::SetUserState { name, value }) => {
                json!({"user": "set_user_state", "name": name, "value": value})
            }
            Step::User(u) => json!({ "user": u.name() }),
            Step::Lifecycle(l) => json!({ "lifecycle": l }),
            Step::Network(n) => json!({ "network": n }),
            Step::Agent(a) => json!({ "agent": a }),
            Step::AgentSignal { event, map } => {
                json!({"agent": "signal", "event": event, "map": map})
            }
            Step::AgentMessage { name, map } => {
                json!({"agent": "message", "name": name, "map": map})
            }
            Step::Relaunch { away_ms } => json!({"relaunch": {"away_ms": away_ms}}),
            Step::AdvanceMs(ms) => json!({ "advance_ms": ms }),
            Step::Api(call) => json!({ "api": call }),
        }
    }

    /// Reads one scenario line's JSON object.
    pub fn from_json(v: &Value) -> Result<Step, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| "expected a JSON object".to_owned())?;
        let kinds = [
            "config",
            "user",
            "lifecycle",
            "network",
            "agent",
            "advance_ms",
            "api",
            "relaunch",
        ];
        let kind = kinds
            .iter()
            .find(|k| obj.contains_key(**k))
            .ok_or_else(|| format!("expected a step with one of the keys {}", kinds.join(", ")))?;
        let allowed: &[&str] = match *kind {
            "user" => &["user", "visitor_id", "map", "name", "value"],
            "agent" => &["agent", "event", "map", "name"],
            k => std::slice::from_ref(kinds.iter().find(|x| **x == k).unwrap_or(&"")),
        };
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("unexpected key `{extra}` in a `{kind}` step"));
        }
        let val = &obj[*kind];
        let word = || {
            val.as_str()
                .ok_or_else(|| format!("`{kind}` must be a string"))
        };
        match *kind {
            "config" => {
                // the app's group id is an init_visitor argument: a positive Int32 (spec.md
                // §3.3), so the controller's calls are not refused for it
                if let Some(n) = val.get("group_id").and_then(whole_number) {
                    if !(1..=i128::from(MAX_GROUP_ID)).contains(&n) {
                        return Err(format!(
                            "bad config: group_id {n} must be 1..={MAX_GROUP_ID} (a positive Int32, as the seed's initVisitor takes)"
                        ));
                    }
                }
                let config = serde_json::from_value::<ScenarioConfig>(val.clone())
                    .map_err(|e| format!("bad config: {e}"))?;
                // the controller starts every session with these: options the SDK refuses
                // (S-A27) would make no session startable
                config
                    .start_options
                    .validate()
                    .map_err(|e| format!("bad config: start_options: {e}"))?;
                Ok(Step::Config(config))
            }
            "user" => {
                let w = word()?;
                let intent = match w {
                    "launch" => UserIntent::Launch,
                    "tap_cobrowse" => UserIntent::TapCobrowse,
                    "login" => {
                        let id = obj
                            .get("visitor_id")
                            .and_then(Value::as_str)
                            .ok_or_else(|| "`login` needs a string `visitor_id`".to_owned())?;
                        UserIntent::Login {
                            visitor_id: id.to_owned(),
                        }
                    }
                    "accept_terms" => UserIntent::AcceptTerms,
                    "decline_terms" => UserIntent::DeclineTerms,
                    "end_session" => UserIntent::EndSession,
                    "logout" => UserIntent::Logout,
                    "exit" => UserIntent::Exit,
                    "presence_data" => {
                        let map = obj
                            .get("map")
                            .ok_or_else(|| "`presence_data` needs an object `map`".to_owned())
                            .and_then(|m| string_map(m, "presence_data"))?;
                        UserIntent::PresenceData { map }
                    }
                    "toggle_pause" => UserIntent::TogglePause,
                    "send_message" => {
                        let name = text_field(obj, "send_message", "name")?;
                        let map = match obj.get("map") {
                            None => BTreeMap::new(),
                            Some(m) => string_map(m, "send_message")?,
                        };
                        UserIntent::SendMessage { name, map }
                    }
                    "set_user_state" => UserIntent::SetUserState {
                        name: text_field(obj, "set_user_state", "name")?,
                        value: text_field(obj, "set_user_state", "value")?,
                    },
                    other => {
                        return Err(format!(
                            "unknown user action `{other}`, expected launch, tap_cobrowse, login, accept_terms, decline_terms, end_session, logout, exit, presence_data, toggle_pause, send_message or set_user_state"
                        ))
                    }
                };
                if obj.contains_key("visitor_id") && !matches!(intent, UserIntent::Login { .. }) {
                    return Err("`visitor_id` goes only with `login`".to_owned());
                }
                if obj.contains_key("map")
                    && !matches!(
                        intent,
                        UserIntent::PresenceData { .. } | UserIntent::SendMessage { .. }
                    )
                {
                    return Err("`map` goes only with `presence_data` and `send_message`".to_owned());
                }
                if obj.contains_key("name")
                    && !matches!(
                        intent,
                        UserIntent::SendMessage { .. } | UserIntent::SetUserState { .. }
                    )
                {
                    return Err("`name` goes only with `send_message` and `set_user_state`".to_owned());
                }
                if obj.contains_key("value") && !matches!(intent, UserIntent::SetUserState { .. }) {
                    return Err("`value` goes only with `set_user_state`".to_owned());
                }
                Ok(Step::User(intent))
            }
            "lifecycle" => match word()? {
                "background" => Ok(Step::Lifecycle(Lifecycle::Background)),
                "foreground" => Ok(Step::Lifecycle(Lifecycle::Foreground)),
                other => Err(format!(
                    "unknown lifecycle `{other}`, expected background or foreground"
                )),
            },
            "network" => match word()? {
                "lost" => Ok(Step::Network(NetworkChange::Lost)),
                "restored" => Ok(Step::Network(NetworkChange::Restored)),
                other => Err(format!("unknown network `{other}`, expected lost or restored")),
            },
            "agent" => {
                let w = word()?;
                if w != "signal" && obj.contains_key("event") {
                    return Err("`event` goes only with the agent's `signal`".to_owned());
                }
                if w != "message" && obj.contains_key("name") {
                    return Err("`name` goes only with the agent's `message`".to_owned());
                }
                if w != "signal" && w != "message" && obj.contains_key("map") {
                    return Err("`map` goes only with the agent's `signal` and `message`".to_owned());
                }
                match w {
                    "join" => Ok(Step::Agent(AgentAction::Join)),
                    "leave" => Ok(Step::Agent(AgentAction::Leave)),
                    "start_presence_session" => {
                        Ok(Step::Agent(AgentAction::StartPresenceSession))
                    }
                    "end_session" => Ok(Step::Agent(AgentAction::EndSession)),
                    "start_without_terms" => Ok(Step::Agent(AgentAction::StartWithoutTerms)),
                    "signal" => agent_signal(obj),
                    "message" => agent_message(obj),
                    other => Err(format!(
                        "unknown agent action `{other}`, expected join, leave, start_presence_session, end_session, start_without_terms, signal or message"
                    )),
                }
            }
            "advance_ms" => val
                .as_u64()
                .filter(|ms| *ms <= MAX_ADVANCE_MS)
                .map(Step::AdvanceMs)
                .ok_or_else(|| {
                    format!("`advance_ms` must be a whole number of milliseconds, at most {MAX_ADVANCE_MS} (7 days)")
                }),
            "api" => parse_api(val).map(Step::Api),
            "relaunch" => {
                let bad = || {
                    format!("`relaunch` must be {{\"away_ms\": n}}, a whole number of milliseconds at most {MAX_ADVANCE_MS} (7 days)")
                };
                let r = val.as_object().ok_or_else(bad)?;
                if let Some(extra) = r.keys().find(|k| k.as_str() != "away_ms") {
                    return Err(format!("unexpected key `{extra}` in `relaunch`, expected away_ms"));
                }
                r.get("away_ms")
                    .and_then(Value::as_u64)
                    .filter(|ms| *ms <= MAX_ADVANCE_MS)
                    .map(|away_ms| Step::Relaunch { away_ms })
                    .ok_or_else(bad)
            }
            _ => Err("unknown step".to_owned()),
        }
    }
}

/// A JSON object of strings (a `map` of a scenario step), or what `what` expected instead.
fn string_map(v: &Value, what: &str) -> Result<BTreeMap<String, String>, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("`{what}` needs `map` to be an object of strings"))?;
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!(
                "`{what}`'s `map` must have string values; `{k}` is not a string"
            )),
        })
        .collect()
}

/// `{"agent": "signal", "event": …, "map": {…}}`: the signal must be one the service may send
/// (spec.md §8.2, `presence_signal`: `event` 1–255 characters and not `terms`, `map` at most 16
/// entries of at most 255 characters and no key `event`), so that the step is the agent's and
/// never a malformed frame.
fn agent_signal(obj: &Map<String, Value>) -> Result<Step, String> {
    let event = obj
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| "the agent's `signal` needs a string `event`".to_owned())?
        .to_owned();
    let map = match obj.get("map") {
        None => BTreeMap::new(),
        Some(m) => string_map(m, "signal")?,
    };
    let frame = ServerFrame::PresenceSignal { event, map };
    if let Err(e) = frame.validate() {
        return Err(format!(
            "bad agent signal ({e}): expected `event` of 1 to 255 characters other than `terms`, and a `map` of at most 16 entries of at most 255 characters without the key `event`"
        ));
    }
    let ServerFrame::PresenceSignal { event, map } = frame else {
        return Err("bad agent signal".to_owned());
    };
    Ok(Step::AgentSignal { event, map })
}

/// A string field `key` of a user step `what`, or an error naming both.
fn text_field(obj: &Map<String, Value>, what: &str, key: &str) -> Result<String, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("`{what}` needs a string `{key}`"))
}

/// `{"agent": "message", "name": …, "map": {…}}`: the message must be one the service may
/// send (spec.md §8.2, `user_message`: `name` 1–255 characters, `map` at most 16 entries of at
/// most 255 characters and no key `name`), so that the step is the agent's and never a
/// malformed frame.
fn agent_message(obj: &Map<String, Value>) -> Result<Step, String> {
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| "the agent's `message` needs a string `name`".to_owned())?
        .to_owned();
    let map = match obj.get("map") {
        None => BTreeMap::new(),
        Some(m) => string_map(m, "message")?,
    };
    let frame = ServerFrame::UserMessage { name, map };
    if let Err(e) = frame.validate() {
        return Err(format!(
            "bad agent message ({e}): expected `name` of 1 to 255 characters, and a `map` of at most 16 entries of at most 255 characters without the key `name`"
        ));
    }
    let ServerFrame::UserMessage { name, map } = frame else {
        return Err("bad agent message".to_owned());
    };
    Ok(Step::AgentMessage { name, map })
}

/// A frame as a record shows it: one of the core's own frames, kept typed, or JSON that is not
/// exactly one (another SDK's frame, a hostile trace's), kept as written.
///
/// A record line reads as [`WireFrame::Typed`] exactly when its JSON is the one the frame
/// writes (so that reading a trace this crate wrote gives back the records it wrote, and a
/// frame reads the same however it is held); anything else stays [`WireFrame::Json`], which
/// every reader of frames judges as it always did. Written out, both are the JSON as
/// `serde_json::Value` writes it (keys in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireFrame<T> {
    /// One of the core's frames.
    Typed(T),
    /// JSON that is not exactly one of the core's frames.
    Json(Value),
}

/// A typed frame hashes as its frame; JSON (which `serde_json::Value` cannot hash) by its kind
/// alone, which agrees with `Eq` (equal frames hash alike) at the cost of collisions among
/// foreign frames, which are rare.
impl<T: Hash> Hash for WireFrame<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let WireFrame::Typed(frame) = self {
            frame.hash(state);
        }
    }
}

/// A frame the SDK sent, as a `send` record holds it.
pub type SentFrame = WireFrame<ClientFrame>;
/// A frame the SDK received, as a `recv` record holds it.
pub type ReceivedFrame = WireFrame<ServerFrame>;

/// The core's frame types, as a [`WireFrame`] holds them.
pub trait FrameType: Serialize + DeserializeOwned + PartialEq {
    /// The frame's `type` word, as it is written.
    fn type_word(&self) -> &'static str;
    /// How many fields the frame writes besides `type` (its `Option`s included, as `null`).
    fn field_count(&self) -> usize;
    /// Writes the frame as `serde_json::to_value(self)` writes it: its fields and `type` in
    /// key order (a record's JSON is the same bytes whichever way the frame is held).
    fn serialize_sorted<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    /// A frame read from JSON `text` as this crate writes it, by a reader that need not be
    /// strict (`WireFrame::from_text` keeps it only when it writes that very text back):
    /// serde's by default; a frame type may read its own faster.
    fn from_written(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// Every field of every [`ClientFrame`], as [`ClientFrame::from_written`] reads them: in one
/// pass, without the tagged enum's buffering; what a frame does not have is ignored (the
/// frame read is kept only when it writes the text back).
#[derive(Deserialize)]
struct ClientFields<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    v: Option<u32>,
    group_id: Option<i32>,
    token: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    visitor_id: Option<String>,
    key: Option<String>,
    sessionkey: Option<String>,
    event: Option<String>,
    map: Option<BTreeMap<String, String>>,
    request_id: Option<u64>,
    foreground: Option<bool>,
    max_guests: Option<u16>,
    paused: Option<bool>,
}

/// [`ClientFields`] for [`ServerFrame`].
#[derive(Deserialize)]
struct ServerFields<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    v: Option<u32>,
    key_length: Option<u8>,
    reason: Option<String>,
    sessionkey: Option<String>,
    guestcount: Option<u32>,
    request_id: Option<u64>,
    agent_start: Option<bool>,
}

/// `(key, value)` pairs as a JSON object, in the order given.
macro_rules! sorted_map {
    ($s:expr, $( $k:literal => $v:expr ),* $(,)?) => {{
        use serde::ser::SerializeMap;
        let mut m = $s.serialize_map(None)?;
        $( m.serialize_entry($k, $v)?; )*
        m.end()
    }};
}

impl FrameType for ClientFrame {
    fn type_word(&self) -> &'static str {
        match self {
            ClientFrame::Init { .. } => "init",
            ClientFrame::StartSession { .. } => "start_session",
            ClientFrame::EndSession {} => "end_session",
            ClientFrame::ResumeSession { .. } => "resume_session",
            ClientFrame::PresenceConnect { .. } => "presence_connect",
            ClientFrame::PresenceDisconnect {} => "presence_disconnect",
            ClientFrame::PresenceSignal { .. } => "presence_signal",
            ClientFrame::AppState { .. } => "app_state",
            ClientFrame::PresenceData { .. } => "presence_data",
            ClientFrame::PresenceVisibility { .. } => "presence_visibility",
            ClientFrame::Pause { .. } => "pause",
            ClientFrame::UserMessage { .. } => "user_message",
            ClientFrame::UserState { .. } => "user_state",
        }
    }

    fn field_count(&self) -> usize {
        match self {
            ClientFrame::Init { .. } => 7,
            ClientFrame::PresenceSignal { .. } => 3,
            ClientFrame::UserMessage { .. } => 2,
            // the options are written only when not at their defaults
            ClientFrame::StartSession {
                max_guests, paused, ..
            } => 1 + usize::from(max_guests.is_some()) + usize::from(*paused),
            ClientFrame::ResumeSession { .. }
            | ClientFrame::PresenceConnect { .. }
            | ClientFrame::AppState { .. }
            | ClientFrame::PresenceData { .. }
            | ClientFrame::PresenceVisibility { .. }
            | ClientFrame::Pause { .. }
            | ClientFrame::UserState { .. } => 1,
            ClientFrame::EndSession {} | ClientFrame::PresenceDisconnect {} => 0,
        }
    }

    fn serialize_sorted<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ty = self.type_word();
        match self {
            ClientFrame::Init {
                v,
                group_id,
                token,
                name,
                email,
                phone,
                visitor_id,
            } => sorted_map!(s, "email" => email, "group_id" => group_id, "name" => name,
                "phone" => phone, "token" => token, "type" => ty, "v" => v,
                "visitor_id" => visitor_id),
            ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            } => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("key", key)?;
                if let Some(n) = max_guests {
                    m.serialize_entry("max_guests", n)?;
                }
                if *paused {
                    m.serialize_entry("paused", paused)?;
                }
                m.serialize_entry("type", ty)?;
                m.end()
            }
            ClientFrame::EndSession {} | ClientFrame::PresenceDisconnect {} => {
                sorted_map!(s, "type" => ty)
            }
            ClientFrame::ResumeSession { sessionkey } => {
                sorted_map!(s, "sessionkey" => sessionkey, "type" => ty)
            }
            ClientFrame::PresenceConnect { visitor_id } => {
                sorted_map!(s, "type" => ty, "visitor_id" => visitor_id)
            }
            ClientFrame::PresenceSignal {
                event,
                map,
                request_id,
            } => sorted_map!(s, "event" => event, "map" => map, "request_id" => request_id,
                "type" => ty),
            ClientFrame::AppState { foreground } => {
                sorted_map!(s, "foreground" => foreground, "type" => ty)
            }
            ClientFrame::PresenceData { map } => sorted_map!(s, "map" => map, "type" => ty),
            ClientFrame::PresenceVisibility { visible } => {
                sorted_map!(s, "type" => ty, "visible" => visible)
            }
            ClientFrame::Pause { paused } => sorted_map!(s, "paused" => paused, "type" => ty),
            ClientFrame::UserMessage { name, map } => {
                sorted_map!(s, "map" => map, "name" => name, "type" => ty)
            }
            ClientFrame::UserState { state } => sorted_map!(s, "state" => state, "type" => ty),
        }
    }

    fn from_written(text: &str) -> Option<Self> {
        let f: ClientFields = serde_json::from_str(text).ok()?;
        Some(match f.ty {
            "init" => ClientFrame::Init {
                v: f.v?,
                group_id: f.group_id?,
                token: f.token?,
                name: f.name?,
                email: f.email?,
                phone: f.phone?,
                visitor_id: f.visitor_id,
            },
            "start_session" => ClientFrame::StartSession {
                key: f.key,
                max_guests: f.max_guests,
                paused: f.paused.unwrap_or(false),
            },
            "end_session" => ClientFrame::EndSession {},
            "resume_session" => ClientFrame::ResumeSession {
                sessionkey: f.sessionkey?,
            },
            "presence_connect" => ClientFrame::PresenceConnect {
                visitor_id: f.visitor_id?,
            },
            "presence_disconnect" => ClientFrame::PresenceDisconnect {},
            "presence_signal" => ClientFrame::PresenceSignal {
                event: f.event?,
                map: f.map?,
                request_id: f.request_id,
            },
            "app_state" => ClientFrame::AppState {
                foreground: f.foreground?,
            },
            // another frame: serde's reader
            _ => return serde_json::from_str(text).ok(),
        })
    }
}

impl FrameType for ServerFrame {
    fn type_word(&self) -> &'static str {
        match self {
            ServerFrame::Settings { .. } => "settings",
            ServerFrame::InitFailed { .. } => "init_failed",
            ServerFrame::SessionStarted { .. } => "session_started",
            ServerFrame::SessionRefused { .. } => "session_refused",
            ServerFrame::GuestCount { .. } => "guest_count",
            ServerFrame::SessionEnded { .. } => "session_ended",
            ServerFrame::PresenceConnected {} => "presence_connected",
            ServerFrame::PresenceConnectFailed { .. } => "presence_connect_failed",
            ServerFrame::PresenceShowTerms { .. } => "presence_show_terms",
            ServerFrame::PresenceBlur {} => "presence_blur",
            ServerFrame::PresenceSignal { .. } => "presence_signal",
            ServerFrame::PresenceStartSession { .. } => "presence_start_session",
            ServerFrame::PresenceNotConfigured {} => "presence_not_configured",
            ServerFrame::UserMessage { .. } => "user_message",
        }
    }

    fn field_count(&self) -> usize {
        match self {
            ServerFrame::Settings { agent_start, .. } => 2 + usize::from(*agent_start),
            ServerFrame::PresenceSignal { .. } | ServerFrame::UserMessage { .. } => 2,
            ServerFrame::InitFailed { .. }
            | ServerFrame::SessionStarted { .. }
            | ServerFrame::SessionRefused { .. }
            | ServerFrame::GuestCount { .. }
            | ServerFrame::SessionEnded { .. }
            | ServerFrame::PresenceConnectFailed { .. }
            | ServerFrame::PresenceShowTerms { .. }
            | ServerFrame::PresenceStartSession { .. } => 1,
            ServerFrame::PresenceConnected {}
            | ServerFrame::PresenceBlur {}
            | ServerFrame::PresenceNotConfigured {} => 0,
        }
    }

    fn serialize_sorted<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ty = self.type_word();
        match self {
            ServerFrame::Settings {
                v,
                key_length,
                agent_start: false,
            } => sorted_map!(s, "key_length" => key_length, "type" => ty, "v" => v),
            ServerFrame::Settings {
                v,
                key_length,
                agent_start: true,
            } => sorted_map!(s, "agent_start" => &true, "key_length" => key_length, "type" => ty,
                "v" => v),
            ServerFrame::InitFailed { reason }
            | ServerFrame::SessionRefused { reason }
            | ServerFrame::SessionEnded { reason }
            | ServerFrame::PresenceConnectFailed { reason } => {
                sorted_map!(s, "reason" => reason, "type" => ty)
            }
            ServerFrame::SessionStarted { sessionkey } => {
                sorted_map!(s, "sessionkey" => sessionkey, "type" => ty)
            }
            ServerFrame::GuestCount { guestcount } => {
                sorted_map!(s, "guestcount" => guestcount, "type" => ty)
            }
            ServerFrame::PresenceShowTerms { request_id }
            | ServerFrame::PresenceStartSession { request_id } => {
                sorted_map!(s, "request_id" => request_id, "type" => ty)
            }
            ServerFrame::PresenceSignal { event, map } => {
                sorted_map!(s, "event" => event, "map" => map, "type" => ty)
            }
            ServerFrame::UserMessage { name, map } => {
                sorted_map!(s, "map" => map, "name" => name, "type" => ty)
            }
            ServerFrame::PresenceConnected {}
            | ServerFrame::PresenceBlur {}
            | ServerFrame::PresenceNotConfigured {} => sorted_map!(s, "type" => ty),
        }
    }

    fn from_written(text: &str) -> Option<Self> {
        let f: ServerFields = serde_json::from_str(text).ok()?;
        Some(match f.ty {
            "settings" => ServerFrame::Settings {
                v: f.v?,
                key_length: f.key_length?,
                agent_start: f.agent_start.unwrap_or(false),
            },
            "init_failed" => ServerFrame::InitFailed { reason: f.reason? },
            "session_started" => ServerFrame::SessionStarted {
                sessionkey: f.sessionkey?,
            },
            "session_refused" => ServerFrame::SessionRefused { reason: f.reason? },
            "guest_count" => ServerFrame::GuestCount {
                guestcount: f.guestcount?,
            },
            "session_ended" => ServerFrame::SessionEnded { reason: f.reason? },
            "presence_connected" => ServerFrame::PresenceConnected {},
            "presence_connect_failed" => ServerFrame::PresenceConnectFailed { reason: f.reason? },
            "presence_show_terms" => ServerFrame::PresenceShowTerms {
                request_id: f.request_id?,
            },
            "presence_blur" => ServerFrame::PresenceBlur {},
            // another frame: serde's reader
            _ => return serde_json::from_str(text).ok(),
        })
    }
}

impl<T: FrameType> WireFrame<T> {
    /// Reads a record's frame: typed when `v` is exactly the JSON of one of the core's frames,
    /// else kept as written.
    pub fn from_json(v: Value) -> Self {
        // `serde_json::to_value(&t) == v`, without building it: the frames' serde refuses an
        // unknown field and any value its field would not write back the same (a float for
        // an integer, a number out of range), so what it accepts differs from what it writes
        // only by an `Option` field left out, which the count of fields tells
        // (`exactly_when_the_json_is_ours` checks this against `to_value`)
        match (T::deserialize(&v), v.as_object()) {
            (Ok(t), Some(obj)) if obj.len() == t.field_count() + 1 => WireFrame::Typed(t),
            _ => WireFrame::Json(v),
        }
    }

    /// [`WireFrame::from_json`] of the JSON `text`, without building its `Value` for a frame
    /// as this crate writes it: the frame read from the text is typed when it writes that
    /// very text back (then the text's JSON is the frame's own, which is what `from_json`
    /// decides); any other text goes through `from_json`. `None` when the text is not a JSON
    /// value that `Value` reads (a `RawValue` also takes a number out of `f64`'s range,
    /// which the general reader refuses: that line is the general reader's to name).
    fn from_text(text: &str) -> Option<Self> {
        if let Some(t) = T::from_written(text) {
            if writes_exactly(&Sorted(&t), text) {
                return Some(WireFrame::Typed(t));
            }
        }
        serde_json::from_str(text).ok().map(WireFrame::from_json)
    }

    /// The frame as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            WireFrame::Typed(t) => serde_json::to_value(t).unwrap_or_default(),
            WireFrame::Json(v) => v.clone(),
        }
    }

    /// The frame's `type`, when it has a string one.
    pub fn frame_type(&self) -> Option<&str> {
        match self {
            WireFrame::Typed(t) => Some(t.type_word()),
            WireFrame::Json(v) => v.get("type").and_then(Value::as_str),
        }
    }

    /// The core's frame, when it is one.
    pub fn typed(&self) -> Option<&T> {
        match self {
            WireFrame::Typed(t) => Some(t),
            WireFrame::Json(_) => None,
        }
    }

    /// Whether this is `frame` (the same JSON).
    pub fn is(&self, frame: &T) -> bool {
        match self {
            WireFrame::Typed(t) => t == frame,
            WireFrame::Json(v) => serde_json::to_value(frame).ok().as_ref() == Some(v),
        }
    }
}

impl<T: FrameType> From<T> for WireFrame<T> {
    fn from(frame: T) -> Self {
        WireFrame::Typed(frame)
    }
}

/// A frame written as [`FrameType::serialize_sorted`] writes it.
struct Sorted<'a, T>(&'a T);

impl<T: FrameType> Serialize for Sorted<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_sorted(s)
    }
}

impl<T: FrameType> Serialize for WireFrame<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // the keys in order, as for a JSON frame
            WireFrame::Typed(t) => t.serialize_sorted(s),
            WireFrame::Json(v) => v.serialize(s),
        }
    }
}

impl<'de, T: FrameType> Deserialize<'de> for WireFrame<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(WireFrame::from_json)
    }
}

/// An event as a transcript shows it: the Glance code and its properties. One of the core's
/// events is kept typed ([`EventRecord::Typed`]); an event record that is not exactly the one
/// an [`Event`] writes (another SDK's, which may write numbers) is kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventRecord {
    /// One of the core's events.
    Typed(Event),
    /// An event record that is not exactly one of the core's.
    Json {
        /// `EventConnectedToSession`, …
        code: String,
        /// The event's properties (strings from this crate; other SDKs may write numbers).
        properties: BTreeMap<String, Value>,
    },
}

/// An event record as written: `{"code": …, "properties": {…}}`.
#[derive(Serialize, Deserialize)]
#[serde(rename = "EventRecord", deny_unknown_fields)]
struct EventJson {
    code: String,
    #[serde(default)]
    properties: BTreeMap<String, Value>,
}

/// The core's event with this code and these properties, if the record is exactly one's.
fn typed_event(code: &str, properties: &BTreeMap<String, Value>) -> Option<Event> {
    let text = |name: &str| match properties.get(name) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let number = |name: &str| text(name).and_then(|s| s.parse::<u64>().ok());
    let call = || text("call").and_then(cobrowse_visitor_core::CallName::parse);
    let error = || text("error").and_then(cobrowse_visitor_core::ErrorCode::parse);
    let event = match code {
        "EventVisitorInitialized" => Event::VisitorInitialized {
            settings_loaded: text("settings") != Some("default"),
        },
        "EventConnectedToSession" => Event::ConnectedToSession {
            sessionkey: text("sessionkey")?.to_owned(),
            keytype: match text("keytype")? {
                "random" => KeyType::Random,
                "visitor_id" => KeyType::VisitorId,
                "custom" => KeyType::Custom,
                _ => return None,
            },
        },
        "EventGuestCountChange" => Event::GuestCountChange {
            guestcount: u32::try_from(number("guestcount")?).ok()?,
        },
        "EventSessionEnded" => Event::SessionEnded {
            reason: text("reason")?.to_owned(),
        },
        "EventStartSessionFailed" => Event::StartSessionFailed {
            reason: text("reason")?.to_owned(),
        },
        "EventInvalidParameter" => Event::InvalidParameter {
            call: call()?,
            code: error()?,
        },
        "EventInvalidState" => Event::InvalidState {
            call: call()?,
            code: error()?,
        },
        "EventPresenceConnected" => Event::PresenceConnected,
        "EventPresenceConnectFail" => Event::PresenceConnectFail {
            reason: text("reason")?.to_owned(),
            retry_ms: match properties.get("retry_ms") {
                None => None,
                Some(_) => Some(number("retry_ms")?),
            },
        },
        "EventPresenceSignal" => Event::PresenceSignal {
            event: text("event")?.to_owned(),
            map: properties
                .iter()
                .filter(|(k, _)| k.as_str() != "event")
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect::<Option<_>>()?,
        },
        "EventMessageReceived" => Event::MessageReceived {
            name: text("name")?.to_owned(),
            map: properties
                .iter()
                .filter(|(k, _)| k.as_str() != "name")
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect::<Option<_>>()?,
        },
        "EventPresenceStartSession" => Event::PresenceStartSession {
            request_id: number("request_id")?,
        },
        "EventPresenceNotConfigured" => Event::PresenceNotConfigured,
        "EventPresenceSendFail" => Event::PresenceSendFail {
            call: call()?,
            code: error()?,
        },
        "EventPresenceShowTerms" => Event::PresenceShowTerms {
            request_id: number("request_id")?,
        },
        "EventPresenceDisconnected" => Event::PresenceDisconnected,
        "EventPresenceBlur" => Event::PresenceBlur,
        "EventConnectionWarning" => Event::ConnectionWarning,
        "EventClearWarning" => Event::ClearWarning,
        _ => return None,
    };
    // exactly: the typed event must write this very record back
    (event.code() == code
        && typed_prop_count(&event) == properties.len()
        && properties
            .iter()
            .all(|(k, v)| match (typed_prop(&event, k), v) {
                (Some(p), Value::String(s)) => *p == **s,
                _ => false,
            }))
    .then_some(event)
}

impl EventRecord {
    /// Reads an event record from its code and properties: typed when it is exactly one of
    /// the core's events, else kept as written.
    pub fn from_parts(code: String, properties: BTreeMap<String, Value>) -> Self {
        match typed_event(&code, &properties) {
            Some(e) => EventRecord::Typed(e),
            None => EventRecord::Json { code, properties },
        }
    }

    /// The Glance code: `EventConnectedToSession`, …
    pub fn code(&self) -> &str {
        match self {
            EventRecord::Typed(e) => e.code(),
            EventRecord::Json { code, .. } => code,
        }
    }

    /// A property as text, whether written as a string or a number.
    pub fn prop(&self, name: &str) -> Option<Cow<'_, str>> {
        match self {
            EventRecord::Typed(e) => typed_prop(e, name),
            EventRecord::Json { properties, .. } => match properties.get(name)? {
                Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                Value::Number(n) => Some(Cow::Owned(n.to_string())),
                _ => None,
            },
        }
    }

    /// The number of properties.
    pub fn property_count(&self) -> usize {
        match self {
            EventRecord::Typed(e) => typed_prop_count(e),
            EventRecord::Json { properties, .. } => properties.len(),
        }
    }

    /// The properties as written (in key order).
    pub fn properties(&self) -> BTreeMap<String, Value> {
        match self {
            EventRecord::Typed(e) => e
                .properties()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
            EventRecord::Json { properties, .. } => properties.clone(),
        }
    }

    /// The properties' names, in order.
    pub fn property_names(&self) -> Vec<String> {
        match self {
            EventRecord::Typed(e) => e.properties().keys().map(|k| (*k).to_owned()).collect(),
            EventRecord::Json { properties, .. } => properties.keys().cloned().collect(),
        }
    }
}

/// How many properties [`Event::properties`] gives, without building them.
fn typed_prop_count(e: &Event) -> usize {
    match e {
        Event::VisitorInitialized { settings_loaded } => usize::from(!settings_loaded),
        Event::ConnectedToSession { .. }
        | Event::InvalidParameter { .. }
        | Event::InvalidState { .. } => 2,
        Event::PresenceConnectFail { retry_ms, .. } => 1 + usize::from(retry_ms.is_some()),
        Event::GuestCountChange { .. }
        | Event::SessionEnded { .. }
        | Event::StartSessionFailed { .. }
        | Event::PresenceShowTerms { .. } => 1,
        Event::PresenceConnected
        | Event::PresenceDisconnected
        | Event::PresenceBlur
        | Event::ConnectionWarning
        | Event::ClearWarning => 0,
        e => e.properties().len(),
    }
}

/// [`Event::properties`]' `name`, without building them all.
fn typed_prop<'a>(e: &'a Event, name: &str) -> Option<Cow<'a, str>> {
    let owned = |n: u64| Some(Cow::Owned(n.to_string()));
    match (e, name) {
        (Event::VisitorInitialized { settings_loaded }, "settings") => {
            (!settings_loaded).then_some(Cow::Borrowed("default"))
        }
        (Event::VisitorInitialized { .. }, _) => None,
        (Event::ConnectedToSession { sessionkey, .. }, "sessionkey") => {
            Some(Cow::Borrowed(sessionkey.as_str()))
        }
        (Event::ConnectedToSession { keytype, .. }, "keytype") => {
            Some(Cow::Borrowed(keytype.as_str()))
        }
        (Event::ConnectedToSession { .. }, _) => None,
        (Event::GuestCountChange { guestcount }, "guestcount") => owned(u64::from(*guestcount)),
        (Event::GuestCountChange { .. }, _) => None,
        (Event::SessionEnded { reason } | Event::StartSessionFailed { reason }, "reason") => {
            Some(Cow::Borrowed(reason.as_str()))
        }
        (Event::SessionEnded { .. } | Event::StartSessionFailed { .. }, _) => None,
        (Event::InvalidParameter { call, .. } | Event::InvalidState { call, .. }, "call") => {
            Some(Cow::Borrowed(call.as_str()))
        }
        (Event::InvalidParameter { code, .. } | Event::InvalidState { code, .. }, "error") => {
            Some(Cow::Borrowed(code.as_str()))
        }
        (Event::InvalidParameter { .. } | Event::InvalidState { .. }, _) => None,
        (Event::PresenceConnectFail { reason, .. }, "reason") => {
            Some(Cow::Borrowed(reason.as_str()))
        }
        (Event::PresenceConnectFail { retry_ms, .. }, "retry_ms") => retry_ms.and_then(owned),
        (Event::PresenceConnectFail { .. }, _) => None,
        (Event::PresenceShowTerms { request_id }, "request_id") => owned(*request_id),
        (Event::PresenceShowTerms { .. }, _) => None,
        (
            Event::PresenceConnected
            | Event::PresenceDisconnected
            | Event::PresenceBlur
            | Event::ConnectionWarning
            | Event::ClearWarning,
            _,
        ) => None,
        // an event this reader does not know by name: its properties as the core gives them
        (e, name) => e.properties().remove(name).map(Cow::Owned),
    }
}

impl From<&Event> for EventRecord {
    fn from(e: &Event) -> Self {
        EventRecord::Typed(e.clone())
    }
}

impl From<Event> for EventRecord {
    fn from(e: Event) -> Self {
        EventRecord::Typed(e)
    }
}

impl Serialize for EventRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("EventRecord", 2)?;
        match self {
            EventRecord::Typed(e) => {
                st.serialize_field("code", e.code())?;
                st.serialize_field("properties", &TypedProperties(e))?;
            }
            EventRecord::Json { code, properties } => {
                st.serialize_field("code", code)?;
                st.serialize_field("properties", properties)?;
            }
        }
        st.end()
    }
}

/// [`Event::properties`] as a JSON object, written without building them.
struct TypedProperties<'a>(&'a Event);

impl Serialize for TypedProperties<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let names: &[&str] = match e {
            Event::VisitorInitialized { settings_loaded } => {
                if *settings_loaded {
                    &[]
                } else {
                    &["settings"]
                }
            }
            Event::ConnectedToSession { .. } => &["keytype", "sessionkey"],
            Event::GuestCountChange { .. } => &["guestcount"],
            Event::SessionEnded { .. } | Event::StartSessionFailed { .. } => &["reason"],
            Event::InvalidParameter { .. } | Event::InvalidState { .. } => &["call", "error"],
            Event::PresenceConnectFail {
                retry_ms: Some(_), ..
            } => &["reason", "retry_ms"],
            Event::PresenceConnectFail { retry_ms: None, .. } => &["reason"],
            Event::PresenceShowTerms { .. } => &["request_id"],
            Event::PresenceConnected
            | Event::PresenceDisconnected
            | Event::PresenceBlur
            | Event::ConnectionWarning
            | Event::ClearWarning => &[],
            // an event this writer does not know by name: as the core gives its properties
            e => return e.properties().serialize(s),
        };
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(names.len()))?;
        for name in names {
            m.serialize_entry(name, typed_prop(e, name).as_deref().unwrap_or_default())?;
        }
        m.end()
    }
}

/// A typed event hashes as its event; one kept as written by its code alone (its JSON
/// properties cannot hash), which agrees with `Eq`.
impl Hash for EventRecord {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            EventRecord::Typed(event) => event.hash(state),
            EventRecord::Json { code, .. } => code.hash(state),
        }
    }
}

impl<'de> Deserialize<'de> for EventRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EventJson::deserialize(d).map(|e| EventRecord::from_parts(e.code, e.properties))
    }
}

/// A refusal as a transcript shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRecord {
    /// snake_case code, e.g. `group_id_mismatch`.
    pub code: String,
    /// One sentence.
    pub message: String,
}

/// What one record observed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// A call into the SDK.
    Api(ApiCall),
    /// A frame the SDK sent (typed when it is one of the core's, else as written: other
    /// SDKs' frames need not be ours).
    Send(SentFrame),
    /// A frame the SDK received (likewise).
    Recv(ReceivedFrame),
    /// An event delivered to the app.
    Event(EventRecord),
    /// A UI directive.
    Ui(UiDirective),
    /// The record before it, or the step, was refused.
    Error(ErrorRecord),
}

/// One transcript line: `{"step": n, "<kind>": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// 0-based index of the scenario line that caused it.
    pub step: usize,
    /// What was observed.
    #[serde(flatten)]
    pub observed: Observed,
}

/// A line of a trace: a scenario step or a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TraceLine {
    /// A scenario line interleaved in the trace.
    Step(Step),
    /// A transcript record.
    Record(Record),
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A JSON error of one line, without serde_json's "at line 1": the line is the caller's.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(what) => format!("{what} at column {}", e.column()),
        None => text,
    }
}

fn parse_object(line: usize, text: &str) -> Result<Option<Map<String, Value>>, ParseError> {
    let err = |message: String| ParseError { line, message };
    if text.len() > MAX_LINE_BYTES {
        return Err(err(format!(
            "line of {} bytes exceeds the limit of {MAX_LINE_BYTES}",
            text.len()
        )));
    }
    if text.starts_with('\u{feff}') {
        return Err(err(
            "the line starts with a UTF-8 byte order mark (BOM); expected JSON Lines in UTF-8 without a BOM".to_owned(),
        ));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(err("expected a JSON object".to_owned())),
        Err(e) => Err(err(format!("not JSON: {}", json_error(&e)))),
    }
}

/// Reads a scenario: JSON Lines of steps, a `config` only on the first non-blank line, group
/// ids in the seed's `Int32` range (the config's also positive: [`Step::from_json`]).
pub fn parse_scenario(text: &str) -> Result<Vec<Step>, ParseError> {
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(obj) = parse_object(i + 1, line)? else {
            continue;
        };
        let step = Step::from_json(&Value::Object(obj)).map_err(|message| ParseError {
            line: i + 1,
            message,
        })?;
        if matches!(step, Step::Config(_)) && !steps.is_empty() {
            return Err(ParseError {
                line: i + 1,
                message: "a `config` step may only be the first line".to_owned(),
            });
        }
        steps.push(step);
    }
    Ok(steps)
}

/// A record line as [`quick_record`] reads it: `step`, and each kind present or not (a kind
/// that is present is never `None`, even when it is `null`). An `api` call and a frame are
/// kept as the line's own text, which [`api_from_text`] and [`WireFrame::from_text`] read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuickRecord<'a> {
    step: u64,
    #[serde(default, borrow, deserialize_with = "present")]
    api: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    send: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    recv: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present")]
    event: Option<EventJson>,
    #[serde(default, deserialize_with = "present")]
    ui: Option<UiDirective>,
    #[serde(default, deserialize_with = "present")]
    error: Option<ErrorRecord>,
}

/// A field that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Whether `value` writes exactly `text` (serde_json's compact form), compared as it is
/// written, without building the text.
fn writes_exactly<S: Serialize + ?Sized>(value: &S, text: &str) -> bool {
    /// The bytes still to be written; a write that differs from them fails the writer.
    struct Same<'a>(&'a [u8]);
    impl std::io::Write for Same<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.strip_prefix(buf) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(buf.len())
                }
                None => Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut same = Same(text.as_bytes());
    serde_json::to_writer(&mut same, value).is_ok() && same.0.is_empty()
}

/// Every field of every [`ApiCall`], as [`api_from_written`] reads them (see
/// [`ClientFields`]).
#[derive(Deserialize)]
struct ApiFields<'a> {
    call: &'a str,
    group_id: Option<i32>,
    token: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    visitor_id: Option<String>,
    enabled: Option<bool>,
    key: Option<String>,
    event: Option<String>,
    map: Option<BTreeMap<String, String>>,
    max_attempts: Option<i32>,
    max_guests: Option<i32>,
    paused: Option<bool>,
    persist: Option<bool>,
}

/// An `api` call read from JSON `text` as this crate writes it, by a reader that need not be
/// strict ([`api_from_text`] keeps it only when it writes that very text back): in one pass,
/// without the tagged enum's buffering.
fn api_from_written(text: &str) -> Option<ApiCall> {
    let f: ApiFields = serde_json::from_str(text).ok()?;
    Some(match f.call {
        "init_visitor" => ApiCall::InitVisitor(cobrowse_visitor_core::InitParams {
            group_id: f.group_id?,
            token: f.token.unwrap_or_default(),
            name: f.name.unwrap_or_default(),
            email: f.email.unwrap_or_default(),
            phone: f.phone.unwrap_or_default(),
            visitor_id: f.visitor_id,
        }),
        "set_default_ui" => ApiCall::SetDefaultUi {
            enabled: f.enabled?,
        },
        "start_session" => ApiCall::StartSession(cobrowse_visitor_core::StartParams {
            key: cobrowse_visitor_core::StartKey::from_arg(f.key.as_deref()),
            options: StartOptions {
                max_guests: f.max_guests,
                paused: f.paused.unwrap_or(false),
                persist: f.persist.unwrap_or(true),
            },
        }),
        "end_session" => ApiCall::EndSession,
        "presence_connect" => ApiCall::PresenceConnect {
            max_attempts: f
                .max_attempts
                .unwrap_or(cobrowse_visitor_core::ATTEMPTS_FOREVER),
        },
        "presence_set_default_ui" => ApiCall::PresenceSetDefaultUi {
            enabled: f.enabled?,
        },
        "presence_signal_agent" => ApiCall::PresenceSignalAgent {
            event: f.event?,
            map: f.map.unwrap_or_default(),
        },
        "presence_disconnect" => ApiCall::PresenceDisconnect,
        // another call: serde's reader
        _ => return serde_json::from_str(text).ok(),
    })
}

/// [`parse_api`] of the JSON `text` (a well-formed JSON value). An `api` call as this crate
/// writes it is read straight from the text: when the call read from it writes that very
/// text, its JSON is the call's own, which [`parse_api`] reads as that call (every call's
/// JSON has only its fields, its required ones, an `Int32` group id, and reads back as
/// itself: `tests::api_calls_read_back_as_written`). Any other text goes through
/// [`parse_api`]; `None` where it refuses.
fn api_from_text(text: &str) -> Option<ApiCall> {
    if let Some(call) = api_from_written(text) {
        if writes_exactly(&call, text) {
            return Some(call);
        }
    }
    parse_api(&serde_json::from_str(text).ok()?).ok()
}

/// Reads a well-formed record line in one pass, without building the line's JSON object
/// first: most lines of a trace. `None` for any other line (a scenario line, a record with
/// an unknown or a missing field, two kinds, a value of the wrong type, …), which the general
/// reader ([`record_from_json`], [`Step::from_json`]) then reads, and names what is wrong.
/// Where it answers, it answers as the general reader does: the same fields, each read by
/// the same rules (`tests::quick_reads_as_the_general_reader`).
fn quick_record(line: &str) -> Option<Record> {
    let q: QuickRecord = serde_json::from_str(line).ok()?;
    let step = usize::try_from(q.step).ok()?;
    let observed = match q {
        QuickRecord {
            api: Some(v),
            send: None,
            recv: None,
            event: None,
            ui: None,
            error: None,
            ..
        } => Observed::Api(api_from_text(v.get())?),
        QuickRecord {
            api: None,
            send: Some(v),
            recv: None,
            event: None,
            ui: None,
            error: None,
            ..
        } => Observed::Send(WireFrame::from_text(v.get())?),
        QuickRecord {
            api: None,
            send: None,
            recv: Some(v),
            event: None,
            ui: None,
            error: None,
            ..
        } => Observed::Recv(WireFrame::from_text(v.get())?),
        QuickRecord {
            api: None,
            send: None,
            recv: None,
            event: Some(e),
            ui: None,
            error: None,
            ..
        } => Observed::Event(EventRecord::from_parts(e.code, e.properties)),
        QuickRecord {
            api: None,
            send: None,
            recv: None,
            event: None,
            ui: Some(ui),
            error: None,
            ..
        } => Observed::Ui(ui),
        QuickRecord {
            api: None,
            send: None,
            recv: None,
            event: None,
            ui: None,
            error: Some(e),
            ..
        } => Observed::Error(e),
        _ => return None,
    };
    Some(Record { step, observed })
}

/// Reads a trace: transcript records, with scenario lines possibly interleaved. Returns each
/// line with its 1-based line number.
pub fn parse_trace(text: &str) -> Result<Vec<(usize, TraceLine)>, ParseError> {
    read_trace_lines(text, true)
}

/// [`parse_trace`] without its one-pass record reader: every line through the general one.
/// The reference the fuzz target `check_trace` holds [`parse_trace`] to (the same lines, the
/// same error); slower.
pub fn parse_trace_general(text: &str) -> Result<Vec<(usize, TraceLine)>, ParseError> {
    read_trace_lines(text, false)
}

fn read_trace_lines(text: &str, quick: bool) -> Result<Vec<(usize, TraceLine)>, ParseError> {
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        // (a scenario line has no `step`: it goes straight to the general reader, sparing the
        // quick one its error)
        if quick
            && line.len() <= MAX_LINE_BYTES
            && !line.starts_with('\u{feff}')
            && line.contains("\"step\"")
        {
            if let Some(record) = quick_record(line) {
                lines.push((n, TraceLine::Record(record)));
                continue;
            }
        }
        let Some(obj) = parse_object(n, line)? else {
            continue;
        };
        let parsed = if obj.contains_key("step") {
            record_from_object(obj).map(TraceLine::Record)
        } else if let Some(kind) = RECORD_KINDS.iter().find(|k| {
            // `api` is a scenario step's key too, and so is `event` in the agent's `signal`
            // step (spec.md §13.1)
            **k != "api" && !(**k == "event" && obj.contains_key("agent")) && obj.contains_key(**k)
        }) {
            Err(format!(
                "a `{kind}` record without `step`; expected a record {{\"step\": n, {kind}: …}} or a scenario line"
            ))
        } else {
            Step::from_json(&Value::Object(obj)).map(TraceLine::Step)
        };
        lines.push((
            n,
            parsed.map_err(|message| ParseError { line: n, message })?,
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_json() {
        let text = r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"user": "login", "visitor_id": "cust-42"}
{"lifecycle": "background"}
{"network": "lost"}
{"agent": "start_presence_session"}
{"advance_ms": 5000}
{"api": {"call": "start_session", "key": "GLANCE_KEYTYPE_RANDOM"}}
"#;
        let steps = parse_scenario(text).unwrap();
        assert_eq!(steps.len(), 8);
        for s in &steps {
            assert_eq!(&Step::from_json(&s.to_json()).unwrap(), s);
        }
        // the vocabulary of spec.md §13.1
        let text = r#"{"config": {"consent_policy": "agent_may_start", "agent_start": true, "presence": false, "limits": "web_compatible"}}
{"agent": "signal", "event": "open_page", "map": {"page": "checkout"}}
{"agent": "signal", "event": "ping"}
{"agent": "start_without_terms"}
{"user": "presence_data", "map": {"page": "cart"}}
{"api": {"call": "presence_connect", "max_attempts": 3}}
{"api": {"call": "presence_connect"}}
{"api": {"call": "presence_data", "map": {"a": "b"}}}
{"api": {"call": "presence_signal_visibility", "visible": false}}
"#;
        let steps = parse_scenario(text).unwrap();
        assert_eq!(steps.len(), 9);
        let Step::Config(c) = &steps[0] else { panic!() };
        assert_eq!(c.consent_policy, ConsentPolicy::AgentMayStart);
        assert!(c.agent_start && !c.presence);
        assert_eq!(c.limits, Limits::WebCompatible);
        assert_eq!(
            steps[2],
            Step::AgentSignal {
                event: "ping".into(),
                map: BTreeMap::new()
            }
        );
        assert_eq!(
            steps[5],
            Step::Api(ApiCall::PresenceConnect { max_attempts: 3 })
        );
        assert_eq!(steps[6], Step::Api(ApiCall::presence_connect()));
        // a config with none of the new keys writes them not
        assert_eq!(
            Step::Config(ScenarioConfig::default()).to_json(),
            json!({"config": {"group_id": 19921, "custom_ui": true, "seed": 7}})
        );
        for s in &steps {
            assert_eq!(&Step::from_json(&s.to_json()).unwrap(), s);
        }
        // the vocabulary of spec.md §13.2
        let text = r#"{"user": "toggle_pause"}
{"user": "send_message", "name": "hello", "map": {"page": "cart"}}
{"user": "send_message", "name": "ping"}
{"user": "set_user_state", "name": "step", "value": "2"}
{"agent": "message", "name": "note", "map": {"text": "hi"}}
{"agent": "message", "name": "ping"}
{"relaunch": {"away_ms": 30000}}
{"api": {"call": "pause", "paused": true}}
{"api": {"call": "send_user_message", "name": "n", "map": {}}}
{"api": {"call": "set_user_state", "name": "n", "value": "v"}}
"#;
        let steps = parse_scenario(text).unwrap();
        assert_eq!(steps.len(), 10);
        assert_eq!(steps[0], Step::User(UserIntent::TogglePause));
        assert_eq!(
            steps[2],
            Step::User(UserIntent::SendMessage {
                name: "ping".into(),
                map: BTreeMap::new()
            })
        );
        assert_eq!(steps[6], Step::Relaunch { away_ms: 30_000 });
        for s in &steps {
            assert_eq!(&Step::from_json(&s.to_json()).unwrap(), s);
        }
    }

    #[test]
    fn the_vocabulary_of_13_2_is_read_strictly() {
        for (line, expected) in [
            (r#"{"user": "send_message"}"#, "needs a string `name`"),
            (
                r#"{"user": "set_user_state", "name": "n"}"#,
                "needs a string `value`",
            ),
            (
                r#"{"user": "toggle_pause", "name": "n"}"#,
                "`name` goes only with",
            ),
            (
                r#"{"user": "launch", "value": "v"}"#,
                "`value` goes only with",
            ),
            (
                r#"{"user": "set_user_state", "name": "n", "value": "v", "map": {}}"#,
                "`map` goes only with",
            ),
            (r#"{"agent": "message"}"#, "needs a string `name`"),
            (r#"{"agent": "message", "name": ""}"#, "bad agent message"),
            (
                r#"{"agent": "message", "name": "n", "map": {"name": "x"}}"#,
                "bad agent message",
            ),
            (
                r#"{"agent": "message", "name": "n", "map": {"a": 1}}"#,
                "not a string",
            ),
            (r#"{"agent": "join", "name": "n"}"#, "`name` goes only with"),
            (
                r#"{"agent": "signal", "event": "e", "name": "n"}"#,
                "`name` goes only with",
            ),
            (r#"{"relaunch": 5}"#, "`relaunch` must be"),
            (r#"{"relaunch": {}}"#, "`relaunch` must be"),
            (r#"{"relaunch": {"away_ms": -1}}"#, "`relaunch` must be"),
            (
                r#"{"relaunch": {"away_ms": 604800001}}"#,
                "`relaunch` must be",
            ),
            (
                r#"{"relaunch": {"away_ms": 1, "x": 2}}"#,
                "unexpected key `x` in `relaunch`",
            ),
            (
                r#"{"relaunch": {"away_ms": 1}, "x": 2}"#,
                "unexpected key `x`",
            ),
        ] {
            let e = parse_scenario(&format!("{{\"user\": \"launch\"}}\n{line}")).unwrap_err();
            assert_eq!(e.line, 2, "{line}");
            assert!(e.message.contains(expected), "{line}: {}", e.message);
        }
    }

    #[test]
    fn bad_lines_name_the_line_and_the_expectation() {
        let e = parse_scenario("{\"user\": \"launch\"}\n{\"user\": \"fly\"}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected launch"), "{}", e.message);
        let e = parse_scenario("{\"user\": \"launch\"}\n{\"config\": {}}").unwrap_err();
        assert!(e.message.contains("first line"));
        let e = parse_scenario("nope").unwrap_err();
        assert!(e.message.starts_with("not JSON"));
        let e = parse_scenario("{\"advance_ms\": -1}").unwrap_err();
        assert!(e.message.contains("whole number"));
        let e = parse_scenario("{\"user\": \"launch\", \"x\": 1}").unwrap_err();
        assert!(e.message.contains("unexpected key"));
        // the new steps and keys, as strictly
        for (line, expected) in [
            (r#"{"config": {"consent_policy": "always"}}"#, "bad config"),
            (r#"{"config": {"limits": "glance6"}}"#, "bad config"),
            (r#"{"config": {"presence": "no"}}"#, "bad config"),
            (r#"{"agent": "signal"}"#, "needs a string `event`"),
            (
                r#"{"agent": "signal", "event": "terms"}"#,
                "bad agent signal",
            ),
            (r#"{"agent": "signal", "event": ""}"#, "bad agent signal"),
            (
                r#"{"agent": "signal", "event": "e", "map": {"event": "x"}}"#,
                "bad agent signal",
            ),
            (
                r#"{"agent": "signal", "event": "e", "map": {"n": 1}}"#,
                "string values",
            ),
            (
                r#"{"agent": "signal", "event": "e", "map": []}"#,
                "object of strings",
            ),
            (
                r#"{"agent": "join", "event": "e"}"#,
                "only with the agent's `signal`",
            ),
            (
                r#"{"agent": "start_without_terms", "map": {}}"#,
                "only with the agent's",
            ),
            (
                r#"{"agent": "signal", "event": "e", "x": 1}"#,
                "unexpected key",
            ),
            (r#"{"user": "presence_data"}"#, "needs an object `map`"),
            (
                r#"{"user": "launch", "map": {}}"#,
                "`map` goes only with `presence_data`",
            ),
            (
                r#"{"user": "login", "visitor_id": "a", "map": {}}"#,
                "`map` goes only",
            ),
            (
                r#"{"api": {"call": "presence_connect", "max_attempts": "3"}}"#,
                "bad api call",
            ),
            (
                r#"{"api": {"call": "presence_connect", "max_attempts": 3000000000}}"#,
                "bad api call",
            ),
            (
                r#"{"api": {"call": "presence_data"}}"#,
                "needs the field `map`",
            ),
            (
                r#"{"api": {"call": "presence_signal_visibility"}}"#,
                "needs the field `visible`",
            ),
            (
                r#"{"api": {"call": "presence_signal_visibility", "visible": true, "x": 1}}"#,
                "unexpected field",
            ),
        ] {
            let e = parse_scenario(&format!("{{\"user\": \"launch\"}}\n{line}")).unwrap_err();
            assert_eq!(e.line, 2, "{line}");
            assert!(e.message.contains(expected), "{line}: {}", e.message);
        }
    }

    /// What [`WireFrame::from_json`] must decide: typed exactly when the frame writes `v`.
    fn by_definition<T: FrameType>(v: &Value) -> bool {
        T::deserialize(v).is_ok_and(|t| serde_json::to_value(&t).ok().as_ref() == Some(v))
    }

    /// `v` and every variation of it that a trace might hold instead: each field left out,
    /// set to another kind of value, and one field more.
    fn variations(v: &Value) -> Vec<Value> {
        let mut out = vec![v.clone()];
        let Some(obj) = v.as_object() else {
            return out;
        };
        for k in obj.keys() {
            let mut left_out = obj.clone();
            left_out.remove(k);
            out.push(Value::Object(left_out));
            for other in [
                json!(null),
                json!(1),
                json!(-1),
                json!(1.0),
                json!(1.5),
                json!(300),
                json!(u64::MAX),
                json!("1"),
                json!(true),
                json!({}),
                json!({"a": "b"}),
                json!([]),
            ] {
                let mut changed = obj.clone();
                changed.insert(k.clone(), other);
                out.push(Value::Object(changed));
            }
        }
        let mut more = obj.clone();
        more.insert("x".into(), json!(1));
        out.push(Value::Object(more));
        out
    }

    /// Each frame writes its field count and the typed writer's bytes; each variation of its
    /// JSON reads as `Typed` exactly when it is the frame's own, and writes back as read.
    /// Returns how many variations read as typed.
    fn exactly_ours<T: FrameType + Clone + std::fmt::Debug>(frames: &[T]) -> usize
    where
        WireFrame<T>: Serialize,
    {
        let mut typed = 0;
        for f in frames {
            let v = serde_json::to_value(f).unwrap();
            assert_eq!(v.as_object().unwrap().len(), f.field_count() + 1, "{v}");
            assert_eq!(
                serde_json::to_string(&WireFrame::Typed(f.clone())).unwrap(),
                serde_json::to_string(&v).unwrap()
            );
            for v in variations(&v) {
                let read = WireFrame::<T>::from_json(v.clone());
                assert_eq!(
                    matches!(read, WireFrame::Typed(_)),
                    by_definition::<T>(&v),
                    "{v}"
                );
                assert_eq!(read.to_json(), v);
                typed += usize::from(matches!(read, WireFrame::Typed(_)));
            }
        }
        typed
    }

    #[test]
    fn exactly_when_the_json_is_ours() {
        let client = [
            ClientFrame::Init {
                v: 1,
                group_id: -5,
                token: "t".into(),
                name: "".into(),
                email: "e".into(),
                phone: "p".into(),
                visitor_id: None,
            },
            ClientFrame::Init {
                v: 1,
                group_id: 19921,
                token: "t".into(),
                name: "n".into(),
                email: "e".into(),
                phone: "p".into(),
                visitor_id: Some("cust-1".into()),
            },
            ClientFrame::StartSession {
                key: None,
                max_guests: None,
                paused: false,
            },
            ClientFrame::StartSession {
                key: Some("k".into()),
                max_guests: None,
                paused: false,
            },
            ClientFrame::EndSession {},
            ClientFrame::ResumeSession {
                sessionkey: "1".into(),
            },
            ClientFrame::PresenceConnect {
                visitor_id: "v".into(),
            },
            ClientFrame::PresenceDisconnect {},
            ClientFrame::PresenceSignal {
                event: "terms".into(),
                map: [("status".to_owned(), "accepted".to_owned())].into(),
                request_id: Some(3),
            },
            ClientFrame::PresenceSignal {
                event: "x".into(),
                map: BTreeMap::new(),
                request_id: None,
            },
            ClientFrame::AppState { foreground: true },
            ClientFrame::PresenceData {
                map: BTreeMap::new(),
            },
            ClientFrame::PresenceData {
                map: [("page".to_owned(), "cart".to_owned())].into(),
            },
            ClientFrame::PresenceVisibility { visible: false },
            ClientFrame::Pause { paused: true },
            ClientFrame::UserMessage {
                name: "hello".into(),
                map: [("page".to_owned(), "cart".to_owned())].into(),
            },
            ClientFrame::UserState {
                state: BTreeMap::new(),
            },
            ClientFrame::UserState {
                state: [("step".to_owned(), "2".to_owned())].into(),
            },
        ];
        let server = [
            ServerFrame::UserMessage {
                name: "note".into(),
                map: BTreeMap::new(),
            },
            ServerFrame::UserMessage {
                name: "note".into(),
                map: [("text".to_owned(), "hi".to_owned())].into(),
            },
            ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: false,
            },
            ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: true,
            },
            ServerFrame::PresenceSignal {
                event: "open_page".into(),
                map: [("page".to_owned(), "checkout".to_owned())].into(),
            },
            ServerFrame::PresenceSignal {
                event: "x".into(),
                map: BTreeMap::new(),
            },
            ServerFrame::PresenceStartSession { request_id: 4 },
            ServerFrame::PresenceNotConfigured {},
            ServerFrame::InitFailed { reason: "r".into() },
            ServerFrame::SessionStarted {
                sessionkey: "1".into(),
            },
            ServerFrame::SessionRefused { reason: "r".into() },
            ServerFrame::GuestCount { guestcount: 2 },
            ServerFrame::SessionEnded { reason: "r".into() },
            ServerFrame::PresenceConnected {},
            ServerFrame::PresenceConnectFailed { reason: "r".into() },
            ServerFrame::PresenceShowTerms { request_id: 9 },
            ServerFrame::PresenceBlur {},
        ];
        let typed = exactly_ours(&client) + exactly_ours(&server);
        assert!(typed > client.len() + server.len(), "{typed}");
    }

    /// Every `.jsonl` file under `dir`.
    fn jsonl_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                jsonl_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }

    #[test]
    fn quick_reads_as_the_general_reader() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        jsonl_files(&root.join("traces"), &mut files);
        assert!(!files.is_empty());
        let mut lines: Vec<String> = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
        // each record line as written, and varied: every field of its kind's value (and of
        // the record) left out, set to another kind of value, one field more
        let mut texts: Vec<String> = Vec::new();
        for line in &lines {
            texts.push(line.clone());
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            for v in variations(&Value::Object(obj.clone())) {
                texts.push(v.to_string());
            }
            for kind in RECORD_KINDS {
                if let Some(inner) = obj.get(kind) {
                    for v in variations(inner) {
                        let mut o = obj.clone();
                        o.insert(kind.to_owned(), v);
                        texts.push(Value::Object(o).to_string());
                    }
                }
            }
            // a repeated key, which the general reader reads as its last value
            if let Some(rest) = line.strip_prefix('{') {
                texts.push(format!("{{\"step\":0,{rest}"));
                texts.push(format!("{{\"step\":-0,{rest}"));
            }
        }
        let (mut quick, mut general) = (0, 0);
        for t in &texts {
            let slow = match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(obj)) if obj.contains_key("step") => Some(record_from_json(&obj)),
                _ => None,
            };
            match quick_record(t) {
                Some(r) => {
                    quick += 1;
                    assert_eq!(slow, Some(Ok(r)), "{t}");
                }
                None => general += 1,
            }
        }
        assert!(quick > 1000 && general > 1000, "{quick} {general}");
    }

    #[test]
    fn frames_and_events_read_typed_exactly_when_they_are_ours() {
        use cobrowse_visitor_core::{CallName, ErrorCode};
        let sent = |t: &str| WireFrame::<ClientFrame>::from_json(serde_json::from_str(t).unwrap());
        assert!(matches!(
            sent(r#"{"type":"start_session","key":null}"#),
            WireFrame::Typed(ClientFrame::StartSession {
                key: None,
                max_guests: None,
                paused: false
            })
        ));
        // not exactly ours: an extra field, a float, a missing field, not an object
        for other in [
            r#"{"type":"start_session","key":null,"x":1}"#,
            r#"{"type":"app_state","foreground":1}"#,
            r#"{"type":"start_session"}"#,
            r#""end_session""#,
        ] {
            let f = sent(other);
            assert!(matches!(f, WireFrame::Json(_)), "{other}");
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                serde_json::to_string(&f.to_json()).unwrap()
            );
        }
        let recv = |t: &str| WireFrame::<ServerFrame>::from_json(serde_json::from_str(t).unwrap());
        assert!(matches!(
            recv(r#"{"type":"guest_count","guestcount":2.0}"#),
            WireFrame::Json(_)
        ));
        assert_eq!(
            recv(r#"{"type":"guest_count","guestcount":2}"#).frame_type(),
            Some("guest_count")
        );

        let events = [
            Event::VisitorInitialized {
                settings_loaded: true,
            },
            Event::VisitorInitialized {
                settings_loaded: false,
            },
            Event::ConnectedToSession {
                sessionkey: "1234".into(),
                keytype: KeyType::Random,
            },
            Event::ConnectedToSession {
                sessionkey: "cust-1".into(),
                keytype: KeyType::VisitorId,
            },
            Event::ConnectedToSession {
                sessionkey: "k".into(),
                keytype: KeyType::Custom,
            },
            Event::GuestCountChange {
                guestcount: 4_000_000_000,
            },
            Event::SessionEnded {
                reason: "agent_ended".into(),
            },
            Event::StartSessionFailed { reason: "".into() },
            Event::InvalidParameter {
                call: CallName::InitVisitor,
                code: ErrorCode::InvalidParameter,
            },
            Event::InvalidState {
                call: CallName::EndSession,
                code: ErrorCode::InvalidParameter,
            },
            Event::PresenceConnected,
            Event::PresenceConnectFail {
                reason: "x".into(),
                retry_ms: Some(u64::MAX),
            },
            Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: None,
            },
            Event::PresenceSignal {
                event: "open_page".into(),
                map: [
                    ("page".to_owned(), "checkout".to_owned()),
                    ("reason".to_owned(), "r".to_owned()),
                ]
                .into(),
            },
            Event::PresenceSignal {
                event: "x".into(),
                map: BTreeMap::new(),
            },
            Event::PresenceStartSession { request_id: 12 },
            Event::PresenceNotConfigured,
            Event::PresenceSendFail {
                call: CallName::PresenceSignalVisibility,
                code: ErrorCode::PresenceSendFail,
            },
            Event::PresenceShowTerms { request_id: 7 },
            Event::MessageReceived {
                name: "note".into(),
                map: [("text".to_owned(), "hi".to_owned())].into(),
            },
            Event::MessageReceived {
                name: "n".into(),
                map: BTreeMap::new(),
            },
            Event::PresenceDisconnected,
            Event::PresenceBlur,
            Event::ConnectionWarning,
            Event::ClearWarning,
        ];
        for e in events {
            let rec = EventRecord::from(&e);
            let text = serde_json::to_string(&rec).unwrap();
            let as_json = EventRecord::Json {
                code: rec.code().to_owned(),
                properties: rec.properties(),
            };
            assert_eq!(text, serde_json::to_string(&as_json).unwrap());
            let back: EventRecord = serde_json::from_str(&text).unwrap();
            assert_eq!(back, rec, "{text}");
            for name in [
                "settings",
                "sessionkey",
                "keytype",
                "guestcount",
                "reason",
                "call",
                "error",
                "retry_ms",
                "request_id",
                "event",
                "page",
                "name",
                "text",
                "other",
            ] {
                assert_eq!(
                    rec.prop(name).map(Cow::into_owned),
                    e.properties().get(name).cloned(),
                    "{text} {name}"
                );
            }
            assert_eq!(rec.property_count(), e.properties().len());
        }
        // another SDK's numbers, an extra property: kept as written, read as text
        let n: EventRecord = serde_json::from_str(
            r#"{"code":"EventGuestCountChange","properties":{"guestcount":2}}"#,
        )
        .unwrap();
        assert!(matches!(n, EventRecord::Json { .. }));
        assert_eq!(n.prop("guestcount").as_deref(), Some("2"));
        let x: EventRecord =
            serde_json::from_str(r#"{"code":"EventPresenceBlur","properties":{"sdk":"swift"}}"#)
                .unwrap();
        assert!(matches!(x, EventRecord::Json { .. }));
        // the new events: typed exactly when the event writes that very JSON
        for (text, typed) in [
            (
                r#"{"code":"EventPresenceConnectFail","properties":{"reason":"timeout"}}"#,
                true,
            ),
            (
                r#"{"code":"EventPresenceConnectFail","properties":{"reason":"t","retry_ms":"x"}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceConnectFail","properties":{"reason":"t","retry_ms":"01"}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceSignal","properties":{"event":"e","page":"p"}}"#,
                true,
            ),
            (
                r#"{"code":"EventPresenceSignal","properties":{"page":"p"}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceSignal","properties":{"event":"e","n":1}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceStartSession","properties":{"request_id":"3"}}"#,
                true,
            ),
            (
                r#"{"code":"EventPresenceStartSession","properties":{"request_id":3}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceStartSession","properties":{}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceNotConfigured","properties":{}}"#,
                true,
            ),
            (
                r#"{"code":"EventPresenceNotConfigured","properties":{"x":"y"}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceSendFail","properties":{"call":"presence_signal_agent","error":"presence_send_fail"}}"#,
                true,
            ),
            (
                r#"{"code":"EventPresenceSendFail","properties":{"call":"fly","error":"presence_send_fail"}}"#,
                false,
            ),
            (
                r#"{"code":"EventPresenceSendFail","properties":{"call":"presence_signal_agent"}}"#,
                false,
            ),
        ] {
            let rec: EventRecord = serde_json::from_str(text).unwrap();
            assert_eq!(matches!(rec, EventRecord::Typed(_)), typed, "{text}");
            let back: Value = serde_json::to_value(&rec).unwrap();
            assert_eq!(back, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn an_agent_signal_line_in_a_trace_is_a_scenario_line() {
        let text = "{\"agent\": \"signal\", \"event\": \"open_page\"}\n{\"event\": {\"code\": \"EventPresenceBlur\"}}";
        for read in [parse_trace, parse_trace_general] {
            let e = read(text).unwrap_err();
            assert_eq!(e.line, 2, "{e}");
            let lines = read("{\"agent\": \"signal\", \"event\": \"open_page\"}").unwrap();
            assert!(matches!(
                &lines[0].1,
                TraceLine::Step(Step::AgentSignal { .. })
            ));
        }
    }

    #[test]
    fn records_follow_the_contract_shape() {
        let line = r#"{"step":2,"event":{"code":"EventVisitorInitialized","properties":{}}}"#;
        let lines = parse_trace(line).unwrap();
        let TraceLine::Record(r) = &lines[0].1 else {
            panic!()
        };
        assert_eq!(r.step, 2);
        assert_eq!(serde_json::to_string(r).unwrap(), line);
        let ui = r#"{"step":3,"ui":{"show":"session_key","key":"1234"}}"#;
        let lines = parse_trace(ui).unwrap();
        let TraceLine::Record(r) = &lines[0].1 else {
            panic!()
        };
        assert_eq!(serde_json::to_string(r).unwrap(), ui);
    }

    /// A JSON object's fields in the order written (`Value` sorts them), each value as
    /// written.
    struct Fields(Vec<(String, Box<RawValue>)>);

    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Fields;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Fields, A::Error> {
                    let mut out = Vec::new();
                    while let Some(e) = m.next_entry()? {
                        out.push(e);
                    }
                    Ok(Fields(out))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// The object `fields`, keys in this order, with `sep` after each `:` and `,`.
    fn object(fields: &[(String, String)], sep: &str) -> String {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{sep}{v}", Value::from(k.as_str())))
            .collect();
        format!("{{{}}}", body.join(&format!(",{sep}")))
    }

    /// The JSON text `inner` (an object's, fields in the order written) and the variations a
    /// trace might hold instead, each kept in the order written: a field left out, set to
    /// another value, one more (first or last), the keys reversed, spaces, a string with an
    /// escape, and the same JSON written by `Value` (keys sorted).
    fn written_variations(inner: &str) -> Vec<String> {
        let mut out = vec![inner.to_owned()];
        let Ok(Fields(fields)) = serde_json::from_str::<Fields>(inner) else {
            return out;
        };
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k, v.get().to_owned()))
            .collect();
        out.push(object(&fields, " "));
        out.push(object(
            &fields.iter().rev().cloned().collect::<Vec<_>>(),
            "",
        ));
        out.push(serde_json::from_str::<Value>(inner).unwrap().to_string());
        for (i, (k, v)) in fields.iter().enumerate() {
            let mut left_out = fields.clone();
            left_out.remove(i);
            out.push(object(&left_out, ""));
            let escaped = v
                .strip_prefix('"')
                .and_then(|rest| rest.chars().next().filter(char::is_ascii_alphanumeric))
                .map(|c| format!("\"\\u{:04x}{}", u32::from(c), &v[2..]));
            let others = [
                "null",
                "1",
                "-1",
                "1.0",
                "-0",
                "300",
                "18446744073709551615",
                "2147483648",
                "-2147483649",
                "\"1\"",
                "\"\"",
                "true",
                "{}",
                "{\"a\":\"b\"}",
                "[]",
                // JSON a `RawValue` takes and `Value` refuses (found by `check_trace`)
                "20E393",
                "-1e400",
                "{\"a\":1e400}",
            ];
            for other in others.iter().map(|o| (*o).to_owned()).chain(escaped) {
                let mut changed = fields.clone();
                changed[i] = (k.clone(), other);
                out.push(object(&changed, ""));
            }
            let mut twice = fields.clone();
            twice.push((k.clone(), v.clone()));
            out.push(object(&twice, ""));
        }
        for at_end in [false, true] {
            let mut more = fields.clone();
            more.insert(
                if at_end { more.len() } else { 0 },
                ("x".to_owned(), "1".to_owned()),
            );
            out.push(object(&more, ""));
        }
        out
    }

    /// Every record line of `traces/` and of the seed scenarios' transcripts, as written.
    fn record_lines() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        jsonl_files(&root.join("traces"), &mut files);
        let mut lines: Vec<String> = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
        let mut scenarios = Vec::new();
        jsonl_files(&root.join("scenarios"), &mut scenarios);
        assert!(!files.is_empty() && !scenarios.is_empty());
        for f in &scenarios {
            let steps = parse_scenario(&std::fs::read_to_string(f).unwrap()).unwrap();
            let records = crate::sim::World::run(&steps).expect("the world settles");
            lines.extend(records.iter().map(|r| serde_json::to_string(r).unwrap()));
        }
        lines.retain(|l| l.contains("\"step\""));
        lines
    }

    /// The one-pass reader reads `api` calls and frames from the line's text (typed when
    /// they write that very text back): on every record line of the traces and the seed
    /// transcripts, and on each variation of its call or frame written in its own key order
    /// (and otherwise), it reads as the general reader.
    #[test]
    fn text_read_calls_and_frames_read_as_the_general_reader() {
        let mut texts = Vec::new();
        for line in record_lines() {
            let Ok(Fields(fields)) = serde_json::from_str::<Fields>(&line) else {
                continue;
            };
            let step = fields
                .iter()
                .find(|(k, _)| k == "step")
                .map(|(_, v)| v.get());
            for (kind, inner) in &fields {
                if !["api", "send", "recv", "event"].contains(&kind.as_str()) {
                    continue;
                }
                for v in written_variations(inner.get()) {
                    let step = step.unwrap_or("0");
                    texts.push(format!("{{\"step\":{step},\"{kind}\":{v}}}"));
                    texts.push(format!("{{\"{kind}\": {v}, \"step\": {step}}}"));
                }
            }
        }
        let (mut typed, mut other, mut general) = (0, 0, 0);
        for t in &texts {
            let slow = match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(obj)) => Some(record_from_json(&obj)),
                _ => None,
            };
            match quick_record(t) {
                Some(r) => {
                    match &r.observed {
                        Observed::Api(_)
                        | Observed::Send(WireFrame::Typed(_))
                        | Observed::Recv(WireFrame::Typed(_))
                        | Observed::Event(EventRecord::Typed(_)) => typed += 1,
                        _ => other += 1,
                    }
                    assert_eq!(slow, Some(Ok(r)), "{t}");
                }
                None => general += 1,
            }
        }
        assert!(
            typed > 1000 && other > 1000 && general > 1000,
            "{typed} {other} {general}"
        );
    }

    /// Every `api` call writes JSON that [`parse_api`] reads as that call, and reads from
    /// its own text as that call (what [`api_from_text`] relies on).
    #[test]
    fn api_calls_read_back_as_written() {
        use cobrowse_visitor_core::{InitParams, StartKey};
        let mut calls = vec![
            ApiCall::SetDefaultUi { enabled: true },
            ApiCall::SetDefaultUi { enabled: false },
            ApiCall::start_session(StartKey::Random),
            ApiCall::start_session(StartKey::VisitorId),
            ApiCall::start_session(StartKey::Custom("k".into())),
            ApiCall::EndSession,
            ApiCall::presence_connect(),
            ApiCall::PresenceConnect { max_attempts: 3 },
            ApiCall::PresenceConnect { max_attempts: 0 },
            ApiCall::PresenceSetDefaultUi { enabled: true },
            ApiCall::PresenceData {
                map: BTreeMap::from([("page".to_owned(), "cart".to_owned())]),
            },
            ApiCall::PresenceSignalVisibility { visible: false },
            ApiCall::PresenceSignalAgent {
                event: "terms".into(),
                map: BTreeMap::new(),
            },
            ApiCall::terms(cobrowse_visitor_core::TermsStatus::Accepted),
            ApiCall::PresenceDisconnect,
        ];
        for group_id in [i32::MIN, -1, 0, 1, 19921, i32::MAX] {
            let mut p = InitParams::anonymous(group_id);
            calls.push(ApiCall::InitVisitor(p.clone()));
            p.visitor_id = Some("cust-1".into());
            p.name = "n\u{e9}\"".into();
            calls.push(ApiCall::InitVisitor(p));
        }
        for call in calls {
            let text = serde_json::to_string(&call).unwrap();
            assert_eq!(
                parse_api(&serde_json::to_value(&call).unwrap()),
                Ok(call.clone())
            );
            assert_eq!(api_from_text(&text), Some(call.clone()), "{text}");
            assert_eq!(api_from_written(&text), Some(call.clone()), "{text}");
            assert!(writes_exactly(&call, &text));
        }
        assert!(!writes_exactly(
            &ApiCall::EndSession,
            r#"{"call": "end_session"}"#
        ));
        assert!(!writes_exactly(
            &ApiCall::EndSession,
            r#"{"call":"end_session"} "#
        ));
    }

    /// Every frame as written reads back through its type's own reader
    /// ([`FrameType::from_written`]), not serde's tagged one.
    #[test]
    fn written_frames_read_back_through_their_own_reader() {
        fn check<T: FrameType + Clone + std::fmt::Debug>(frames: &[T]) {
            for f in frames {
                let text = serde_json::to_string(&Sorted(f)).unwrap();
                assert_eq!(T::from_written(&text).as_ref(), Some(f), "{text}");
                assert!(writes_exactly(&Sorted(f), &text));
                assert_eq!(
                    WireFrame::<T>::from_text(&text),
                    Some(WireFrame::Typed(f.clone()))
                );
            }
        }
        check(&[
            ClientFrame::Init {
                v: 1,
                group_id: -5,
                token: "t".into(),
                name: "".into(),
                email: "e".into(),
                phone: "p".into(),
                visitor_id: None,
            },
            ClientFrame::Init {
                v: 1,
                group_id: 19921,
                token: "t".into(),
                name: "n\u{e9}\"".into(),
                email: "e".into(),
                phone: "p".into(),
                visitor_id: Some("cust-1".into()),
            },
            ClientFrame::StartSession {
                key: None,
                max_guests: None,
                paused: false,
            },
            ClientFrame::StartSession {
                key: Some("k".into()),
                max_guests: None,
                paused: false,
            },
            ClientFrame::EndSession {},
            ClientFrame::ResumeSession {
                sessionkey: "1".into(),
            },
            ClientFrame::PresenceConnect {
                visitor_id: "v".into(),
            },
            ClientFrame::PresenceDisconnect {},
            ClientFrame::PresenceSignal {
                event: "terms".into(),
                map: [("status".to_owned(), "accepted".to_owned())].into(),
                request_id: Some(3),
            },
            ClientFrame::PresenceSignal {
                event: "x".into(),
                map: BTreeMap::new(),
                request_id: None,
            },
            ClientFrame::AppState { foreground: true },
            ClientFrame::AppState { foreground: false },
            ClientFrame::PresenceData {
                map: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
            },
            ClientFrame::PresenceVisibility { visible: true },
        ]);
        check(&[
            ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: false,
            },
            ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: true,
            },
            ServerFrame::PresenceSignal {
                event: "e".into(),
                map: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
            },
            ServerFrame::PresenceStartSession { request_id: 1 },
            ServerFrame::PresenceNotConfigured {},
            ServerFrame::InitFailed { reason: "r".into() },
            ServerFrame::SessionStarted {
                sessionkey: "1".into(),
            },
            ServerFrame::SessionRefused { reason: "r".into() },
            ServerFrame::GuestCount { guestcount: 2 },
            ServerFrame::SessionEnded { reason: "r".into() },
            ServerFrame::PresenceConnected {},
            ServerFrame::PresenceConnectFailed { reason: "r".into() },
            ServerFrame::PresenceShowTerms {
                request_id: u64::MAX,
            },
            ServerFrame::PresenceBlur {},
        ]);
    }
}
