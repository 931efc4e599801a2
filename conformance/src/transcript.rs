//! The contract's JSON Lines formats (`../shared/contract/README.md`): scenario steps (what
//! happens) and transcript records (what was observed), with a parser that names the line
//! and what it expected.

use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::Event;
use cobrowse_visitor_core::{Lifecycle, NetworkChange};
use cobrowse_visitor_core::{UiDirective, UserIntent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
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
        "start_session" => (&["key"], &[]),
        "presence_signal_agent" => (&["event", "map"], &["event"]),
        "end_session" | "presence_connect" | "presence_disconnect" => (&[], &[]),
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
            "bad api call: unknown call `{call}`, expected init_visitor, set_default_ui, start_session, end_session, presence_connect, presence_set_default_ui, presence_signal_agent or presence_disconnect"
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
    record_fields(obj).map_err(|what| {
        format!(
            "expected a record {{\"step\": n, and exactly one of api, send, recv, event, ui, error}}: {what}"
        )
    })
}

fn record_fields(obj: &Map<String, Value>) -> Result<Record, String> {
    if let Some(extra) = obj
        .keys()
        .find(|k| k.as_str() != "step" && !RECORD_KINDS.contains(&k.as_str()))
    {
        return Err(format!("unexpected field `{extra}`"));
    }
    let kinds: Vec<&str> = RECORD_KINDS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => return Err("no record kind".to_owned()),
        many => {
            return Err(format!(
                "two kinds in one record (`{}`)",
                many.join("` and `")
            ))
        }
    };
    let step = obj
        .get("step")
        .and_then(Value::as_u64)
        .and_then(|s| usize::try_from(s).ok())
        .ok_or_else(|| "`step` must be a whole number (the 0-based scenario line)".to_owned())?;
    let val = &obj[kind];
    let bad = |e: serde_json::Error| format!("bad `{kind}` record: {e}");
    let observed = match kind {
        "api" => Observed::Api(parse_api(val)?),
        "send" => Observed::Send(val.clone()),
        "recv" => Observed::Recv(val.clone()),
        "event" => Observed::Event(serde_json::from_value(val.clone()).map_err(bad)?),
        "ui" => Observed::Ui(serde_json::from_value(val.clone()).map_err(bad)?),
        _ => Observed::Error(serde_json::from_value(val.clone()).map_err(bad)?),
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
}

impl AgentAction {
    /// The contract's word for it, as in `{"agent": "start_presence_session"}`.
    pub fn name(self) -> &'static str {
        match self {
            AgentAction::Join => "join",
            AgentAction::Leave => "leave",
            AgentAction::StartPresenceSession => "start_presence_session",
            AgentAction::EndSession => "end_session",
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
            Step::User(u) => json!({ "user": u.name() }),
            Step::Lifecycle(l) => json!({ "lifecycle": l }),
            Step::Network(n) => json!({ "network": n }),
            Step::Agent(a) => json!({ "agent": a }),
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
        ];
        let kind = kinds
            .iter()
            .find(|k| obj.contains_key(**k))
            .ok_or_else(|| format!("expected a step with one of the keys {}", kinds.join(", ")))?;
        let allowed: &[&str] = match *kind {
            "user" => &["user", "visitor_id"],
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
                serde_json::from_value::<ScenarioConfig>(val.clone())
                    .map(Step::Config)
                    .map_err(|e| format!("bad config: {e}"))
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
                    other => {
                        return Err(format!(
                            "unknown user action `{other}`, expected launch, tap_cobrowse, login, accept_terms, decline_terms, end_session, logout or exit"
                        ))
                    }
                };
                if obj.contains_key("visitor_id") && !matches!(intent, UserIntent::Login { .. }) {
                    return Err("`visitor_id` goes only with `login`".to_owned());
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
            "agent" => match word()? {
                "join" => Ok(Step::Agent(AgentAction::Join)),
                "leave" => Ok(Step::Agent(AgentAction::Leave)),
                "start_presence_session" => Ok(Step::Agent(AgentAction::StartPresenceSession)),
                "end_session" => Ok(Step::Agent(AgentAction::EndSession)),
                other => Err(format!(
                    "unknown agent action `{other}`, expected join, leave, start_presence_session or end_session"
                )),
            },
            "advance_ms" => val
                .as_u64()
                .filter(|ms| *ms <= MAX_ADVANCE_MS)
                .map(Step::AdvanceMs)
                .ok_or_else(|| {
                    format!("`advance_ms` must be a whole number of milliseconds, at most {MAX_ADVANCE_MS} (7 days)")
                }),
            "api" => parse_api(val).map(Step::Api),
            _ => Err("unknown step".to_owned()),
        }
    }
}

/// An event as a transcript shows it: the Glance code and its properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// `EventConnectedToSession`, …
    pub code: String,
    /// The event's properties (strings from this crate; other SDKs may write numbers).
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
}

impl EventRecord {
    /// A property as text, whether written as a string or a number.
    pub fn prop(&self, name: &str) -> Option<String> {
        match self.properties.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

impl From<&Event> for EventRecord {
    fn from(e: &Event) -> Self {
        EventRecord {
            code: e.code().to_owned(),
            properties: e
                .properties()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        }
    }
}

/// A refusal as a transcript shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRecord {
    /// snake_case code, e.g. `group_id_mismatch`.
    pub code: String,
    /// One sentence.
    pub message: String,
}

/// What one record observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// A call into the SDK.
    Api(ApiCall),
    /// A frame the SDK sent (kept as JSON: other SDKs' frames need not be ours).
    Send(Value),
    /// A frame the SDK received.
    Recv(Value),
    /// An event delivered to the app.
    Event(EventRecord),
    /// A UI directive.
    Ui(UiDirective),
    /// The record before it, or the step, was refused.
    Error(ErrorRecord),
}

/// One transcript line: `{"step": n, "<kind>": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 0-based index of the scenario line that caused it.
    pub step: usize,
    /// What was observed.
    #[serde(flatten)]
    pub observed: Observed,
}

/// A line of a trace: a scenario step or a record.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Reads a trace: transcript records, with scenario lines possibly interleaved. Returns each
/// line with its 1-based line number.
pub fn parse_trace(text: &str) -> Result<Vec<(usize, TraceLine)>, ParseError> {
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some(obj) = parse_object(n, line)? else {
            continue;
        };
        let parsed = if obj.contains_key("step") {
            record_from_json(&obj).map(TraceLine::Record)
        } else if let Some(kind) = RECORD_KINDS
            .iter()
            .find(|k| **k != "api" && obj.contains_key(**k))
        {
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
}
