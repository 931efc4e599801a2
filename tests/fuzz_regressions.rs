//! Every failure the fuzz targets (`fuzz/`) found, as a regular test: each reproduces the
//! failing input and asserts what must hold. The artifact names are those `fuzz/run-ci`
//! printed; `cargo run --manifest-path fuzz/Cargo.toml --example replay -- TARGET FILE`
//! prints an artifact as a scenario.

use cobrowse_visitor_conformance::oracle::{check_trace, interleave};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace, ScenarioConfig, Step};
use cobrowse_visitor_core::UserIntent;
use cobrowse_visitor_core::{ApiCall, StartKey, GLANCE_KEYTYPE_RANDOM};

/// The transcript of `steps`, written as `cobrowse run --interleave` writes it and read back
/// as `cobrowse check` reads it, checked by the oracle.
fn run_and_check(steps: &[Step]) -> Vec<String> {
    let records = World::run(steps).expect("the world settles");
    let mut text = String::new();
    for line in interleave(steps, &records) {
        let json = match line {
            cobrowse_visitor_conformance::transcript::TraceLine::Step(s) => s.to_json().to_string(),
            cobrowse_visitor_conformance::transcript::TraceLine::Record(r) => {
                serde_json::to_string(&r).unwrap()
            }
        };
        text.push_str(&json);
        text.push('\n');
    }
    let lines = parse_trace(&text).unwrap();
    check_trace(&lines).iter().map(|v| v.to_string()).collect()
}

/// drive_core, crash-d3ba4900…: `start_session` with the custom key `GLANCE_KEYTYPE_RANDOM`.
/// The transcript writes it as `{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}`, which
/// the contract (and `cobrowse check`) reads as a random-key start; the SDK started a custom-key
/// session with that key, so the checked transcript showed a "random" session connecting with
/// a non-numeric key (INV-KEY-MATCHES-REQUEST). The reserved word is no custom key: the SDK
/// refuses it, and the transcript checks clean.
#[test]
fn custom_key_glance_keytype_random_is_not_a_custom_session() {
    let steps = [
        Step::Config(ScenarioConfig::default()),
        Step::User(UserIntent::Launch),
        Step::Api(ApiCall::start_session(StartKey::Custom(
            GLANCE_KEYTYPE_RANDOM.to_owned(),
        ))),
    ];
    assert_eq!(run_and_check(&steps), Vec::<String>::new());
}

/// drive_scenario, crash-b3effc47…: a scenario whose config has `group_id: 0` ran; the
/// controller's `launch` called `init_visitor(0)`, which the SDK refuses (§3.3), so
/// `cobrowse check` flagged INV-CONTROLLER-CALLS-ACCEPTED on a transcript `cobrowse run` wrote.
/// Such a config is refused when the scenario is read, or else its transcript checks clean.
#[test]
fn config_with_group_id_zero_is_refused_or_checks_clean() {
    let text = r#"{"config":{"custom_ui":true,"group_id":0,"seed":0}}
{"lifecycle":"background"}
{"user":"launch"}
{"lifecycle":"foreground"}
{"user":"decline_terms"}
{"user":"launch"}
{"agent":"end_session"}
{"agent":"join"}
"#;
    match parse_scenario(text) {
        Err(e) => assert_eq!(e.line, 1, "{e}"),
        Ok(steps) => assert_eq!(run_and_check(&steps), Vec::<String>::new()),
    }
}

/// drive_scenario, timeout-d38c291b…: with the network lost, `advance_ms: 1125912808521728`
/// (about 35 700 years) made the simulator fire the reconnect timer every 16 s of simulated
/// time, some 7·10¹⁰ times: `cobrowse run` hung on a scenario it accepted. An advance that
/// long is refused when the scenario is read (or else the run finishes promptly).
#[test]
fn huge_advance_while_offline_is_refused_or_finishes() {
    let text = r#"{"config":{"custom_ui":true,"group_id":19921,"seed":0}}
{"user":"tap_cobrowse"}
{"user":"launch"}
{"network":"lost"}
{"agent":"start_presence_session"}
{"user":"decline_terms"}
{"advance_ms":1125912808521728}
{"user":"decline_terms"}
{"agent":"end_session"}
"#;
    let steps = match parse_scenario(text) {
        Err(e) => {
            assert_eq!(e.line, 7, "{e}");
            return;
        }
        Ok(steps) => steps,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(World::run(&steps).map(|r| r.len()));
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok(),
        "the simulator did not finish the scenario within 10 s"
    );
}

/// drive_core, crash-52efccd3 (issue 15): with the app's `agent_may_start` and the group's
/// `agent_start`, the agent's one-click request is on screen (terms displayed) when the agent
/// starts a session without terms (S-F25, C-E26); the customer then declines. The controller
/// left the dialog up and called `presence_signal_agent(terms, declined)`, which the SDK
/// refused (S-A56: no request left to answer), INV-CONTROLLER-CALLS-ACCEPTED. C-E26 takes the
/// dialog down; the decline is the controller's own refusal (`no_terms_shown`, C-U32), and
/// the journey checks clean.
#[test]
fn agent_start_over_displayed_terms_then_decline() {
    let text = r#"{"config":{"agent_start":true,"consent_policy":"agent_may_start","custom_ui":true,"group_id":19921,"seed":7}}
{"user":"launch"}
{"user":"login","visitor_id":"cust-42"}
{"agent":"start_presence_session"}
{"agent":"start_without_terms"}
{"user":"decline_terms"}
"#;
    let steps = parse_scenario(text).unwrap();
    assert_eq!(run_and_check(&steps), Vec::<String>::new());
    let records = World::run(&steps).unwrap();
    use cobrowse_visitor_conformance::transcript::Observed;
    let last: Vec<&Observed> = records
        .iter()
        .filter(|r| r.step == 5)
        .map(|r| &r.observed)
        .collect();
    assert!(
        matches!(last.as_slice(), [Observed::Error(e)] if e.code == "no_terms_shown"),
        "{last:?}"
    );
}
