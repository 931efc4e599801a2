//! The output formats of `cobrowse run`: JSON Lines, a readable timeline and a Mermaid
//! sequence diagram. Each renders the whole output into a string first, so that nothing is
//! printed unless all of it could be rendered.

use cobrowse_visitor_conformance::transcript::{
    AgentAction, EventRecord, FrameType, Observed, Record, Step, TraceLine, WireFrame,
};
use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::{Lifecycle, NetworkChange};
use cobrowse_visitor_core::{StartKey, StartParams};
use cobrowse_visitor_core::{UiDirective, UiElement, UserIntent, ATTEMPTS_FOREVER};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// JSON Lines: records (and scenario lines, when interleaved) one a line.
pub fn jsonl(lines: &[TraceLine]) -> Result<String, String> {
    let mut out = String::new();
    for line in lines {
        let text = match line {
            TraceLine::Step(s) => serde_json::to_string(&s.to_json()),
            TraceLine::Record(r) => serde_json::to_string(r),
        }
        .map_err(|e| format!("cannot encode a transcript line: {e}"))?;
        out.push_str(&text);
        out.push('\n');
    }
    Ok(out)
}

/// A step in words: `user tap_cobrowse`, `agent join`, `advance 5000 ms`, …
fn step_words(step: &Step) -> String {
    match step {
        Step::Config(c) => {
            let mut s = format!(
                "config group_id={} custom_ui={} seed={}",
                c.group_id, c.custom_ui, c.seed
            );
            // the keys of spec.md §13.1, only when they are not the defaults (so a config
            // line without them reads as before)
            let d = cobrowse_visitor_conformance::transcript::ScenarioConfig::default();
            if c.consent_policy != d.consent_policy {
                let _ = write!(s, " consent_policy={}", c.consent_policy.as_str());
            }
            if c.agent_start != d.agent_start {
                let _ = write!(s, " agent_start={}", c.agent_start);
            }
            if c.presence != d.presence {
                let _ = write!(s, " presence={}", c.presence);
            }
            if c.limits != d.limits {
                let _ = write!(s, " limits={}", c.limits);
            }
            s
        }
        Step::User(UserIntent::Login { visitor_id }) => {
            format!("user login {}", one_line(visitor_id))
        }
        Step::User(UserIntent::PresenceData { map }) => {
            format!("user presence_data{}", map_words(map))
        }
        Step::User(UserIntent::SendMessage { name, map }) => {
            format!("user send_message {}{}", one_line(name), map_words(map))
        }
        Step::User(UserIntent::SetUserState { name, value }) => {
            format!("user set_user_state {}={}", one_line(name), one_line(value))
        }
        Step::User(u) => format!("user {}", u.name()),
        Step::Lifecycle(l) => format!("lifecycle {}", lifecycle_word(*l)),
        Step::Network(n) => format!(
            "network {}",
            match n {
                NetworkChange::Lost => "lost",
                NetworkChange::Restored => "restored",
            }
        ),
        Step::Agent(a) => format!("agent {}", agent_word(*a)),
        Step::AgentSignal { event, map } => {
            format!("agent signal {}{}", one_line(event), map_words(map))
        }
        Step::AgentMessage { name, map } => {
            format!("agent message {}{}", one_line(name), map_words(map))
        }
        Step::Relaunch { away_ms } => format!("relaunch after {away_ms} ms away"),
        Step::AdvanceMs(ms) => format!("advance {ms} ms"),
        Step::Api(call) => format!("api {} (direct call)", call_words(call)),
    }
}

fn lifecycle_word(l: Lifecycle) -> &'static str {
    match l {
        Lifecycle::Background => "background",
        Lifecycle::Foreground => "foreground",
        Lifecycle::Terminate => "terminate",
    }
}

fn agent_word(a: AgentAction) -> &'static str {
    match a {
        AgentAction::Join => "join",
        AgentAction::Leave => "leave",
        AgentAction::StartPresenceSession => "start_presence_session",
        AgentAction::EndSession => "end_session",
        AgentAction::StartWithoutTerms => "start_without_terms",
    }
}

/// A map's entries as ` k=v k=v` (nothing for an empty map).
fn map_words(map: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    for (k, v) in map {
        let _ = write!(s, " {}={}", one_line(k), one_line(v));
    }
    s
}

/// An API call as a function call: `start_session(GLANCE_KEYTYPE_RANDOM)`.
fn call_words(call: &ApiCall) -> String {
    let args = match call {
        ApiCall::InitVisitor(p) => {
            let mut a = format!("{}", p.group_id);
            if let Some(id) = &p.visitor_id {
                let _ = write!(a, ", visitor_id={}", one_line(id));
            }
            a
        }
        ApiCall::SetDefaultUi { enabled } | ApiCall::PresenceSetDefaultUi { enabled } => {
            enabled.to_string()
        }
        ApiCall::StartSession(StartParams { key, options }) => {
            let mut a = match key {
                StartKey::VisitorId => String::new(),
                StartKey::Random => "GLANCE_KEYTYPE_RANDOM".to_owned(),
                // quoted, so that the empty key is not the no-argument form
                StartKey::Custom(k) => quoted(k),
            };
            // the options that are not at their defaults, as the JSON writes them
            let mut opts = Vec::new();
            if let Some(n) = options.max_guests {
                opts.push(format!("max_guests={n}"));
            }
            if options.paused {
                opts.push("paused".to_owned());
            }
            if !options.persist {
                opts.push("persist=false".to_owned());
            }
            for o in opts {
                if !a.is_empty() {
                    a.push_str(", ");
                }
                a.push_str(&o);
            }
            a
        }
        ApiCall::PresenceSignalAgent { event, map } => {
            let mut a = one_line(event);
            for (k, v) in map {
                let _ = write!(a, ", {}={}", one_line(k), one_line(v));
            }
            a
        }
        ApiCall::PresenceConnect { max_attempts } => {
            if *max_attempts == ATTEMPTS_FOREVER {
                String::new()
            } else {
                format!("max_attempts={max_attempts}")
            }
        }
        ApiCall::PresenceData { map } => {
            let mut a = String::new();
            for (k, v) in map {
                if !a.is_empty() {
                    a.push_str(", ");
                }
                let _ = write!(a, "{}={}", one_line(k), one_line(v));
            }
            a
        }
        ApiCall::PresenceSignalVisibility { visible } => visible.to_string(),
        ApiCall::Pause { paused } => paused.to_string(),
        ApiCall::SendUserMessage { name, map } => {
            let mut a = one_line(name);
            for (k, v) in map {
                let _ = write!(a, ", {}={}", one_line(k), one_line(v));
            }
            a
        }
        ApiCall::SetUserState { name, value } => {
            format!("{}={}", one_line(name), one_line(value))
        }
        ApiCall::EndSession | ApiCall::PresenceDisconnect => String::new(),
    };
    format!("{}({args})", call.name())
}

/// Text as a JSON string literal: quoted, with control characters escaped.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Text that keeps a timeline line one line: as is, unless it has a control character
/// (a newline, a tab, …), then quoted and escaped.
fn one_line(s: &str) -> String {
    if s.chars().any(char::is_control) {
        quoted(s)
    } else {
        s.to_owned()
    }
}

/// A frame by its `type`.
fn frame_type<T: FrameType>(frame: &WireFrame<T>) -> String {
    frame
        .frame_type()
        .map_or_else(|| "frame".to_owned(), one_line)
}

/// An event with its properties: `EventConnectedToSession sessionkey=7463`. The key type is
/// left out: it repeats what the start asked.
fn event_words(e: &EventRecord) -> String {
    let mut s = one_line(e.code());
    for k in e
        .property_names()
        .iter()
        .filter(|k| k.as_str() != "keytype")
    {
        if let Some(v) = e.prop(k) {
            let _ = write!(s, " {}={}", one_line(k), one_line(&v));
        }
    }
    s
}

fn ui_words(ui: &UiDirective) -> String {
    match ui {
        UiDirective::Show { element, key } => {
            let mut s = format!("show {}", element_word(*element));
            if let Some(k) = key {
                let _ = write!(s, " {}", one_line(k));
            }
            s
        }
        UiDirective::Hide { element } => format!("hide {}", element_word(*element)),
    }
}

fn element_word(e: UiElement) -> &'static str {
    match e {
        UiElement::CobrowseButton => "cobrowse_button",
        UiElement::SessionKey => "session_key",
        UiElement::Terms => "terms",
        UiElement::SessionIndicator => "session_indicator",
        UiElement::SessionPaused => "session_paused",
    }
}

/// Who to whom, and what.
fn record_words(r: &Record) -> (&'static str, String) {
    match &r.observed {
        Observed::Api(call) => ("app → sdk", call_words(call)),
        Observed::Send(f) => ("sdk → server", format!("send {}", frame_type(f))),
        Observed::Recv(f) => ("server → sdk", format!("recv {}", frame_type(f))),
        Observed::Event(e) => ("sdk → app", event_words(e)),
        Observed::Ui(ui) => ("ui", ui_words(ui)),
        Observed::Error(e) => (
            "refused",
            format!("{}: {}", one_line(&e.code), one_line(&e.message)),
        ),
    }
}

/// An aligned text timeline: a header for each scenario step, then one line per record:
/// `  2  app → sdk    start_session(GLANCE_KEYTYPE_RANDOM)`.
pub fn timeline(lines: &[TraceLine]) -> Result<String, String> {
    let mut out = String::new();
    let mut index = 0usize;
    for line in lines {
        match line {
            TraceLine::Step(s) => {
                let _ = writeln!(out, "step {index}: {}", step_words(s));
                index = index.saturating_add(1);
            }
            TraceLine::Record(r) => {
                let (who, what) = record_words(r);
                let _ = writeln!(out, "{:>3}  {who:<12} {what}", r.step);
            }
        }
    }
    Ok(out)
}

/// Text safe inside a Mermaid message or note.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ';' => ',',
            '#' | '\n' | '\r' | '%' | '<' | '>' | '{' | '}' => ' ',
            c => c,
        })
        .collect()
}

/// A Mermaid `sequenceDiagram` with the participants Customer, App, SDK, Server and Agent.
pub fn mermaid(lines: &[TraceLine]) -> Result<String, String> {
    let mut out = String::from("sequenceDiagram\n");
    for p in ["Customer", "App", "SDK", "Server", "Agent"] {
        let _ = writeln!(out, "    participant {p}");
    }
    let mut index = 0usize;
    for line in lines {
        let text = match line {
            TraceLine::Step(s) => {
                let n = index;
                index = index.saturating_add(1);
                match s {
                    Step::User(UserIntent::Login { visitor_id }) => {
                        format!("Customer->>App: [{n}] login {visitor_id}")
                    }
                    Step::User(
                        u @ (UserIntent::PresenceData { .. }
                        | UserIntent::SendMessage { .. }
                        | UserIntent::SetUserState { .. }),
                    ) => {
                        format!(
                            "Customer->>App: [{n}] {}",
                            step_words(&Step::User(u.clone())).trim_start_matches("user ")
                        )
                    }
                    Step::User(u) => format!("Customer->>App: [{n}] {}", u.name()),
                    Step::Agent(a) => format!("Agent->>Server: [{n}] {}", agent_word(*a)),
                    Step::AgentSignal { .. } | Step::AgentMessage { .. } => {
                        format!(
                            "Agent->>Server: [{n}] {}",
                            step_words(s).trim_start_matches("agent ")
                        )
                    }
                    Step::Lifecycle(l) => {
                        format!("Note over App,SDK: [{n}] app {}", lifecycle_word(*l))
                    }
                    Step::Relaunch { .. } => format!("Note over App,SDK: [{n}] {}", step_words(s)),
                    Step::Network(_) => format!("Note over SDK,Server: [{n}] {}", step_words(s)),
                    Step::Api(_) => format!("Note over App,SDK: [{n}] {}", step_words(s)),
                    Step::Config(_) | Step::AdvanceMs(_) => {
                        format!("Note over Customer,Agent: [{n}] {}", step_words(s))
                    }
                }
            }
            TraceLine::Record(r) => match &r.observed {
                Observed::Api(call) => format!("App->>SDK: {}", call_words(call)),
                Observed::Send(f) => format!("SDK->>Server: {}", frame_type(f)),
                Observed::Recv(f) => format!("Server->>SDK: {}", frame_type(f)),
                Observed::Event(e) => format!("SDK-->>App: {}", event_words(e)),
                Observed::Ui(ui) => format!("App-->>Customer: {}", ui_words(ui)),
                Observed::Error(e) => format!("Note right of SDK: refused {}", e.code),
            },
        };
        // The arrow and its colon are ours; only the text after the first ": " is sanitized.
        let (head, tail) = text.split_once(": ").unwrap_or((text.as_str(), ""));
        let _ = writeln!(out, "    {head}: {}", mermaid_text(tail));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cobrowse_visitor_conformance::oracle::interleave;
    use cobrowse_visitor_conformance::sim::World;
    use cobrowse_visitor_conformance::transcript::parse_scenario;

    fn lines() -> Vec<TraceLine> {
        let steps = parse_scenario(
            "{\"user\":\"launch\"}\n{\"user\":\"tap_cobrowse\"}\n{\"agent\":\"join\"}\n",
        )
        .unwrap();
        let records = World::run(&steps).expect("the world settles");
        interleave(&steps, &records)
    }

    #[test]
    fn timeline_aligns_who_and_what() {
        let t = timeline(&lines()).unwrap();
        assert!(t.contains("step 1: user tap_cobrowse\n"), "{t}");
        assert!(
            t.contains("  1  app → sdk    start_session(GLANCE_KEYTYPE_RANDOM)\n"),
            "{t}"
        );
        assert!(t.contains("  1  sdk → server send start_session\n"), "{t}");
        assert!(t.contains("  1  sdk → app    EventConnectedToSession sessionkey="));
        assert!(t.contains("  1  ui           show session_key "), "{t}");
    }

    #[test]
    fn timeline_tells_the_empty_key_from_no_key_and_keeps_one_line_per_record() {
        let empty = ApiCall::start_session(StartKey::Custom(String::new()));
        let none = ApiCall::start_session(StartKey::VisitorId);
        assert_eq!(call_words(&empty), "start_session(\"\")");
        assert_eq!(call_words(&none), "start_session()");
        let signal = ApiCall::PresenceSignalAgent {
            event: "terms".to_owned(),
            map: [("status".to_owned(), "a\nb".to_owned())].into(),
        };
        let t = timeline(&[TraceLine::Record(Record {
            step: 1,
            observed: Observed::Api(signal),
        })])
        .unwrap();
        assert_eq!(t.lines().count(), 1, "{t}");
        assert!(t.contains("status=\"a\\nb\""), "{t}");
    }

    #[test]
    fn mermaid_has_the_participants() {
        let m = mermaid(&lines()).unwrap();
        assert!(m.starts_with("sequenceDiagram\n"));
        for p in ["Customer", "App", "SDK", "Server", "Agent"] {
            assert!(m.contains(&format!("participant {p}\n")));
        }
        assert!(m.contains("Customer->>App: [1] tap_cobrowse"), "{m}");
        assert!(m.contains("App->>SDK: start_session(GLANCE_KEYTYPE_RANDOM)"));
        assert!(m.contains("Agent->>Server: [2] join"));
    }

    #[test]
    fn the_new_steps_calls_and_config_keys_read_in_words() {
        let steps = parse_scenario(
            r#"{"config":{"consent_policy":"agent_may_start","agent_start":true,"limits":"web_compatible"}}
{"user":"launch"}
{"user":"login","visitor_id":"cust-42"}
{"user":"presence_data","map":{"page":"cart"}}
{"agent":"signal","event":"open_page","map":{"page":"checkout"}}
{"agent":"start_without_terms"}
{"api":{"call":"presence_connect","max_attempts":2}}
{"api":{"call":"presence_signal_visibility","visible":false}}
"#,
        )
        .unwrap();
        let records = World::run(&steps).expect("the world settles");
        let lines = interleave(&steps, &records);
        let t = timeline(&lines).unwrap();
        for want in [
            "consent_policy=agent_may_start agent_start=true limits=web_compatible\n",
            "step 3: user presence_data page=cart\n",
            "step 4: agent signal open_page page=checkout\n",
            "EventPresenceSignal event=open_page page=checkout\n",
            "step 5: agent start_without_terms\n",
            "EventPresenceStartSession request_id=",
            "presence_connect(max_attempts=2)",
            "presence_signal_visibility(false)",
            "presence_data(page=cart)",
        ] {
            assert!(t.contains(want), "{want}\n{t}");
        }
        let plain = timeline(&[TraceLine::Step(Step::Config(Default::default()))]).unwrap();
        assert_eq!(
            plain,
            "step 0: config group_id=19921 custom_ui=true seed=7\n"
        );
        let m = mermaid(&lines).unwrap();
        assert!(
            m.contains("Agent->>Server: [4] signal open_page page=checkout"),
            "{m}"
        );
        assert!(
            m.contains("Customer->>App: [3] presence_data page=cart"),
            "{m}"
        );
        assert!(m.contains("Agent->>Server: [5] start_without_terms"), "{m}");
    }
}
