//! Transcript snapshots of the seed journeys (`scenarios/*.jsonl`): for each scenario step,
//! what the simulator observed (API calls, frames, events, UI, refusals). Reviewed like code;
//! CI runs with `INSTA_UPDATE=no`.

use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, Observed, Record, Step};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct StepView {
    step: usize,
    input: String,
    out: Vec<String>,
}

/// `head k=v k=v`: the value of `head_key` first, then the other fields in order.
fn flat(v: &serde_json::Value, head_key: &str) -> String {
    let Some(obj) = v.as_object() else {
        return v.to_string();
    };
    let mut parts = Vec::new();
    if let Some(h) = obj.get(head_key).and_then(|h| h.as_str()) {
        parts.push(h.to_owned());
    }
    for (k, val) in obj {
        if k == head_key {
            continue;
        }
        parts.push(match val {
            serde_json::Value::String(s) => format!("{k}={}", plain(s)),
            other => format!("{k}={other}"),
        });
    }
    parts.join(" ")
}

/// A string as it reads: bare, or `""` when empty.
fn plain(s: &str) -> String {
    if s.is_empty() {
        "\"\"".to_owned()
    } else {
        s.to_owned()
    }
}

fn to_value<T: Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

fn describe(o: &Observed) -> String {
    match o {
        Observed::Api(call) => format!("app -> sdk     {}", flat(&to_value(call), "call")),
        Observed::Send(v) => format!("sdk -> server  {}", flat(&v.to_json(), "type")),
        Observed::Recv(v) => format!("server -> sdk  {}", flat(&v.to_json(), "type")),
        Observed::Event(e) => {
            let props: Vec<String> = e
                .properties()
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={}", plain(s)),
                    other => format!("{k}={other}"),
                })
                .collect();
            format!("sdk -> app     {} {}", e.code(), props.join(" "))
                .trim_end()
                .to_owned()
        }
        Observed::Ui(ui) => {
            let v = to_value(ui);
            let (verb, what) = match (v.get("show"), v.get("hide")) {
                (Some(w), _) => ("show", w),
                (_, Some(w)) => ("hide", w),
                _ => ("?", &v),
            };
            let key = v
                .get("key")
                .and_then(|k| k.as_str())
                .map(|k| format!(" key={}", plain(k)))
                .unwrap_or_default();
            format!(
                "ui             {verb} {}{key}",
                what.as_str().unwrap_or("?")
            )
        }
        Observed::Error(e) => format!("refused        {}: {}", e.code, e.message),
    }
}

/// A scenario line as `kind value k=v`, e.g. `user login visitor_id=cust-42`.
fn step_text(s: &Step) -> String {
    let v = s.to_json();
    let Some((kind, val)) = v.as_object().and_then(|o| o.iter().next()) else {
        return v.to_string();
    };
    match val {
        serde_json::Value::String(w) => {
            let rest = flat(&v, kind);
            let rest = rest.trim_start_matches(w.as_str()).trim();
            format!("{kind} {w} {rest}").trim_end().to_owned()
        }
        serde_json::Value::Object(_) => format!("{kind} {}", flat(val, "call")),
        other => format!("{kind} {other}"),
    }
}

fn view(steps: &[Step], records: &[Record]) -> Vec<StepView> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepView {
            step: i,
            input: step_text(s),
            out: records
                .iter()
                .filter(|r| r.step == i)
                .map(|r| describe(&r.observed))
                .collect(),
        })
        .collect()
}

fn journey(name: &str) {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("scenarios")
        .join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let steps = parse_scenario(&text).expect("scenario parses");
    let records = World::run(&steps).expect("the world settles");
    insta::assert_yaml_snapshot!(name, view(&steps, &records));
}

#[test]
fn every_scenario_has_a_journey_test() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("scenarios");
    let this = include_str!("journeys.rs");
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".jsonl") {
            assert!(
                this.contains(&format!("journey(\"{stem}\")")),
                "scenarios/{name} has no snapshot test in conformance/tests/journeys.rs"
            );
        }
    }
}

/// Pre-login: launch, tap Cobrowse (random key, shown), an agent joins, the agent ends it.
#[test]
fn prelogin_manual() {
    journey("prelogin_manual");
}

/// Login, presence, one-click request accepted: the session uses the visitor id, key never
/// shown.
#[test]
fn oneclick_accepted() {
    journey("oneclick_accepted");
}

/// One-click request declined: no session starts.
#[test]
fn oneclick_declined() {
    journey("oneclick_declined");
}

/// Logged in with presence, the customer taps Cobrowse anyway: random key, shown.
#[test]
fn manual_fallback_logged_in() {
    journey("manual_fallback_logged_in");
}

/// Logout disconnects presence and forgets the visitor id; exit disconnects presence.
#[test]
fn logout_and_exit() {
    journey("logout_and_exit");
}

/// Background / foreground while presence is connected and while a session runs: no
/// presence_disconnect or presence_connect calls; the SDK suspends and resumes itself.
#[test]
fn background_presence_and_session() {
    journey("background_presence_and_session");
}

/// A short network loss during a session (warning, resume, cleared), then a long one that
/// ends the session with `connection_lost`.
#[test]
fn network_loss_and_recovery() {
    journey("network_loss_and_recovery");
}

/// A second group id is refused and changes nothing; a second start while running is refused.
#[test]
fn second_group_refused() {
    journey("second_group_refused");
}

/// A group id that is not positive (-5, the `Int32`'s least) is refused as an invalid
/// parameter, before the launch and after it, and changes nothing: the launch's init is the
/// first one, the login's re-init is accepted.
#[test]
fn negative_group_refused() {
    journey("negative_group_refused");
}

/// A login while offline whose lookup times out: the restored link starts with `init`, so the
/// service knows the visitor and presence connects; one-click then works (S-N02, §13).
#[test]
fn login_offline_reaches_the_service() {
    journey("login_offline_reaches_the_service");
}

/// An agent joins while the visitor is offline: the resumed session is told the count
/// (§13: the service resends what the visitor missed), and the leave brings it back to 0.
#[test]
fn agents_while_offline() {
    journey("agents_while_offline");
}

/// A one-click request the controller ignored during a session does not keep presence up in
/// the background: suspended at 60 s (S-T07), reconnected on foreground (S-L02b).
#[test]
fn ignored_oneclick_then_background() {
    journey("ignored_oneclick_then_background");
}

/// The agent's custom signal (S-F24): refused by the service while the visitor is not
/// present, then delivered as `EventPresenceSignal` with the map's entries as properties.
#[test]
fn agent_custom_signal() {
    journey("agent_custom_signal");
}

/// An agent start under the default policy (S-F26, decision 13): the group allows it, the app
/// does not, so it becomes the terms flow; the service accepts the start after `accepted`.
#[test]
fn agent_start_terms_required() {
    journey("agent_start_terms_required");
}

/// An agent start with both the app and the group opted in (S-F25, C-E26): a session without
/// the terms dialog, its key never shown, the session indicator shown.
#[test]
fn agent_start_both_opted_in() {
    journey("agent_start_both_opted_in");
}

/// A group without presence (S-F27): `EventPresenceNotConfigured`, no retry in a minute, the
/// agent cannot reach the visitor, a manual session still works; logout sends no
/// `presence_disconnect`, and the next login's re-init looks again (C-E02, S-A04).
#[test]
fn group_without_presence() {
    journey("group_without_presence");
}

/// `connect(maxAttempts)` by direct calls: 0 refused (S-A45), a bounded connect made offline
/// waits for the link and connects on the restore (S-A43, S-N02), and a bound of 1 connects
/// at the first attempt. (The simulated service answers every connect of a known visitor;
/// `connect_attempts_exhausted` is the path where the attempts are used up.)
#[test]
fn connect_max_attempts() {
    journey("connect_max_attempts");
}

/// `connect(maxAttempts)` used up (S-F21b): the service's presence is down (§13.1
/// `presence_unavailable`), so two attempts fail, the second without `retry_ms`, presence is
/// off (a signal is `EventInvalidState`, S-A51, not a send failure) and nothing more is sent
/// (INV-CONNECT-ATTEMPTS); a new `presence_connect` starts a new round of one attempt.
#[test]
fn connect_attempts_exhausted() {
    journey("connect_attempts_exhausted");
}

/// Presence data (S-A80, S-F20): set before the login (forgotten by the login's re-init with
/// a new visitor id), set while offline and sent on the connect, merged and sent on every
/// change, and sent whole again after a network loss.
#[test]
fn presence_data_across_loss() {
    journey("presence_data_across_loss");
}

/// Presence messages while the link is down (S-A58, S-A71): refused with
/// `EventPresenceSendFail`, nothing queued; sent again once presence is back.
#[test]
fn signal_while_offline_send_fail() {
    journey("signal_while_offline_send_fail");
}

/// The `web_compatible` limits (§3.3a): a 51-character visitor id and one with `~` are refused
/// naming the profile; 50 characters are accepted and presence connects.
#[test]
fn web_compatible_visitor_id() {
    journey("web_compatible_visitor_id");
}

/// Issue 15: a one-click session paused by the customer, across a network loss (the core
/// tells the service again on the new link), resumed, paused again and ended (the notice goes
/// with the session); a pause without a session is refused.
#[test]
fn pause_oneclick_across_loss() {
    journey("pause_oneclick_across_loss");
}

/// Issue 15: an agent's message refused without a session, then shown to the app in a manual
/// session; the app's message and user state reach the agent, the state again after a loss;
/// after the session a state is refused by the SDK.
#[test]
fn agent_message_and_user_state() {
    journey("agent_message_and_user_state");
}

/// Issue 15: the app is killed mid-session (manual, paused, with a user state) and
/// relaunched within the grace: the session resumes, its key is shown again, paused.
#[test]
fn relaunch_manual_session() {
    journey("relaunch_manual_session");
}

/// Issue 15: a one-click session continued across a relaunch never shows its key; away
/// longer than the grace ends it with `restart_expired`; after `exit` the app comes back new.
#[test]
fn relaunch_oneclick_session() {
    journey("relaunch_oneclick_session");
}

/// Issue 15, start options: a manual session started paused with `max_guests: 1` (the
/// controller's `start_options`): the notice shows at once, a second agent's join is refused
/// by the service, before and after a loss (the resume re-sends the pause), and once the first
/// agent leaves another may join.
#[test]
fn start_options_paused_limit() {
    journey("start_options_paused_limit");
}

/// Issue 15, `persist: false`: a one-click session the app asked not to keep is ended by the
/// relaunched core (`send end_session`, not `resume_session`), nothing of it is shown, and the
/// app offers the button again.
#[test]
fn relaunch_not_persisted() {
    journey("relaunch_not_persisted");
}
