//! End to end over real WebSockets on 127.0.0.1: the seed journeys and the faults, each run's
//! transcript checked by the invariant checker and compared with the simulator's transcript
//! of the same scenario.
//!
//! Every journey runs in two ways (see `harness`):
//! - **lockstep**: the loopback server releases one frame at a time when all else is quiet,
//!   which is the simulator's own order, so the transcripts must be *equal*;
//! - **free-running**: the server writes as soon as it can, like a real one, so the order
//!   between the app, the driver and the server within a step is a race; the transcripts must
//!   be equal step by step and channel by channel.
//!
//! Time is a manual clock wound by `advance_ms`, shared by the driver and the server: every
//! core timer fires at the instant it fires in the simulator. Each journey is bounded
//! (`harness::JOURNEY_LIMIT`) and shuts its driver and server down itself.
mod harness;

use cobrowse_visitor_conformance::transcript::{Observed, Record, Step};
use cobrowse_visitor_core::NetworkChange;
use harness::*;

/// Plays `lines` in lockstep: no invariant violation, and equal to the simulator's transcript.
async fn lockstep(lines: &[Line]) -> Vec<Record> {
    lockstep_with(lines, Options::LOCKSTEP).await
}

async fn lockstep_with(lines: &[Line], options: Options) -> Vec<Record> {
    assert_eq!(options.delivery, Delivery::Lockstep);
    let records = play(lines, options).await;
    assert_no_violation(lines, &records);
    assert_same(&records, &simulate(lines));
    records
}

/// Plays `lines` free-running: no invariant violation, and equal to the simulator's transcript
/// apart from the interleaving of the concurrent actors within a step.
async fn free_running(lines: &[Line]) -> Vec<Record> {
    free_running_with(lines, Options::FREE).await
}

async fn free_running_with(lines: &[Line], options: Options) -> Vec<Record> {
    assert_eq!(options.delivery, Delivery::Free);
    let records = play(lines, options).await;
    assert_no_violation(lines, &records);
    assert_same_apart_from_interleaving(&records, &simulate(lines));
    records
}

fn at_step(records: &[Record], step: usize) -> Vec<&Observed> {
    records
        .iter()
        .filter(|r| r.step == step)
        .map(|r| &r.observed)
        .collect()
}

fn kinds(observed: &[&Observed]) -> Vec<String> {
    observed
        .iter()
        .map(|o| match o {
            Observed::Api(call) => format!("api {}", call.name()),
            Observed::Send(v) => format!("send {}", v.frame_type().unwrap_or("?")),
            Observed::Recv(v) => format!("recv {}", v.frame_type().unwrap_or("?")),
            Observed::Event(e) => format!("event {}", e.code()),
            Observed::Ui(ui) => format!("ui {}", serde_json::to_string(ui).expect("ui")),
            Observed::Error(e) => format!("error {}", e.code),
        })
        .collect()
}

fn event_at<'a>(records: &'a [Record], step: usize, code: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.step == step && matches!(&r.observed, Observed::Event(e) if e.code() == code))
        .unwrap_or_else(|| panic!("no {code} at step {step}:\n{}", jsonl(records)))
}

// ---- The seed journeys and the repository's scenarios ----------------------------------

macro_rules! scenario_tests {
    ($($name:ident => $path:literal,)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn lockstep_equals_the_simulator() {
                lockstep(&scenario($path)).await;
            }

            // Two worker threads: the app, the driver and the server really run at once.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn free_running_equals_the_simulator_apart_from_interleaving() {
                free_running(&scenario($path)).await;
            }

            // The same over wss:// (rustls, a test CA made at test time).
            #[tokio::test]
            async fn over_tls_lockstep_equals_the_simulator() {
                lockstep_with(&scenario($path), Options::LOCKSTEP.over_tls()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn over_tls_free_running_equals_the_simulator_apart_from_interleaving() {
                free_running_with(&scenario($path), Options::FREE.over_tls()).await;
            }
        }
    )*};
}

scenario_tests! {
    // pre-login: launch, Cobrowse tapped, random key shown, an agent joins, the agent ends
    prelogin_manual => "scenarios/prelogin_manual.jsonl",
    // login, presence, one-click request, terms accepted, session with the visitor id
    oneclick_accepted => "scenarios/oneclick_accepted.jsonl",
    // login, presence, one-click request, terms declined
    oneclick_declined => "scenarios/oneclick_declined.jsonl",
    // login, logout, a manual session, login again, exit
    logout_and_exit => "scenarios/logout_and_exit.jsonl",
    // logged in, the manual fallback: random key shown
    manual_fallback_logged_in => "scenarios/manual_fallback_logged_in.jsonl",
    // presence kept and suspended in the background, a one-click session across it
    background_presence_and_session => "scenarios/background_presence_and_session.jsonl",
    // misuse: another group id, direct start_session twice, end_session
    second_group_refused => "scenarios/second_group_refused.jsonl",
    // misuse: a negative group id (an Int32, as the seed's) refused before and after launch
    negative_group_refused => "scenarios/negative_group_refused.jsonl",
    // the network drops mid-session twice: resumed within the grace, lost past it
    network_loss_and_recovery => "scenarios/network_loss_and_recovery.jsonl",
    // the network drops while presence is connected; presence reconnects, one-click works
    presence_network_loss => "driver/tests/scenarios/presence_network_loss.jsonl",
    // a login while offline whose lookup times out reaches the service on the new link
    login_offline_reaches_the_service => "scenarios/login_offline_reaches_the_service.jsonl",
    // an agent joins while the visitor is offline: the resumed session is told the count
    agents_while_offline => "scenarios/agents_while_offline.jsonl",
    // an ignored one-click request does not keep presence up in the background
    ignored_oneclick_then_background => "scenarios/ignored_oneclick_then_background.jsonl",
    // issue 14: the agent's custom signal reaches the app
    agent_custom_signal => "scenarios/agent_custom_signal.jsonl",
    // issue 14: an agent start under the default policy is the terms flow
    agent_start_terms_required => "scenarios/agent_start_terms_required.jsonl",
    // issue 14: an agent start with the app and the group both opted in
    agent_start_both_opted_in => "scenarios/agent_start_both_opted_in.jsonl",
    // issue 14: a group without presence: not configured, not retried
    group_without_presence => "scenarios/group_without_presence.jsonl",
    // issue 14: connect(maxAttempts) from a direct call
    connect_max_attempts => "scenarios/connect_max_attempts.jsonl",
    // issue 14: connect(maxAttempts) used up against a service whose presence is down
    connect_attempts_exhausted => "scenarios/connect_attempts_exhausted.jsonl",
    // issue 14: presence data before and after connect and across a network loss
    presence_data_across_loss => "scenarios/presence_data_across_loss.jsonl",
    // issue 14: a terms answer while offline is EventPresenceSendFail
    signal_while_offline_send_fail => "scenarios/signal_while_offline_send_fail.jsonl",
    // issue 14: the web_compatible limits refuse a 51-character visitor id
    web_compatible_visitor_id => "scenarios/web_compatible_visitor_id.jsonl",
    // issue 15: pause in a one-click session, told again after a loss
    pause_oneclick_across_loss => "scenarios/pause_oneclick_across_loss.jsonl",
    // issue 15: the agent's message, the app's message and user state
    agent_message_and_user_state => "scenarios/agent_message_and_user_state.jsonl",
    // issue 15: the app killed and relaunched mid-session: restored, the session resumed on
    // the new process's connection with its pause and user state
    relaunch_manual_session => "scenarios/relaunch_manual_session.jsonl",
    // issue 15: a one-click session across a relaunch within the grace (resumed), one past
    // it (ended, restart_expired), and a relaunch after exit (a new, unlaunched app)
    relaunch_oneclick_session => "scenarios/relaunch_oneclick_session.jsonl",
    // issue 15: a session started paused with max_guests 1: the service refuses a second agent
    start_options_paused_limit => "scenarios/start_options_paused_limit.jsonl",
    // issue 15: a session started without persist is ended by the relaunched process
    relaunch_not_persisted => "scenarios/relaunch_not_persisted.jsonl",
}

/// Every journey in `scenarios/` is played over the sockets above (ws:// and wss://,
/// lockstep and free-running).
#[test]
fn every_scenario_is_played_over_the_sockets() {
    let this = include_str!("e2e.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".jsonl") {
            assert!(
                this.contains(&format!("\"scenarios/{name}\" =>"))
                    || this.contains(&format!("=> \"scenarios/{name}\"")),
                "scenarios/{name} is not played over the sockets"
            );
        }
    }
}

/// The outage played as the platform reporting the network gone (the driver closes the
/// socket itself) instead of the server dropping it: the same transcript.
#[tokio::test]
async fn network_loss_reported_by_the_platform() {
    let lines = scenario("scenarios/network_loss_and_recovery.jsonl");
    let options = Options {
        loss: Loss::DeviceOffline,
        ..Options::LOCKSTEP
    };
    let records = play(&lines, options).await;
    assert_no_violation(&lines, &records);
    assert_same(&records, &simulate(&lines));
}

/// The production clock (tokio's) on a multi-threaded runtime, for journeys without
/// `advance_ms`: the driver's own time works end to end.
async fn real_clock(path: &str) {
    let lines = scenario(path);
    let options = Options {
        time: Time::Tokio,
        ..Options::FREE
    };
    let records = play(&lines, options).await;
    assert_no_violation(&lines, &records);
    assert_same_apart_from_interleaving(&records, &simulate(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clock_manual_fallback() {
    real_clock("scenarios/manual_fallback_logged_in.jsonl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clock_misuse_refused() {
    real_clock("scenarios/second_group_refused.jsonl").await;
}

// ---- Faults -----------------------------------------------------------------------------

/// The server drops the socket and keeps accepting. The simulator has no such step; its
/// counterpart is `lost` followed by `restored`: the driver tells the core the link is lost
/// (the drop's step), and the core asks for a new connection after its first backoff, which
/// comes while the clock is wound through the next step. Same records, same steps; only the
/// time of the reconnect differs (1 s later than the simulator's).
fn drop_then_reconnect() -> [Line; 2] {
    [
        Line::fault(Fault::DropConnection, Step::Network(NetworkChange::Lost)),
        Line::pair(
            Step::AdvanceMs(5_000),
            Step::Network(NetworkChange::Restored),
        ),
    ]
}

fn drop_mid_session() -> Vec<Line> {
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 11}}
{"user": "launch"}
{"user": "tap_cobrowse"}
{"agent": "join"}"#,
    );
    lines.extend(drop_then_reconnect());
    lines.extend(steps(
        r#"{"agent": "leave"}
{"agent": "join"}
{"user": "end_session"}"#,
    ));
    lines
}

fn drop_mid_presence() -> Vec<Line> {
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"user": "login", "visitor_id": "cust-42"}"#,
    );
    lines.extend(drop_then_reconnect());
    lines.extend(steps(
        r#"{"agent": "start_presence_session"}
{"user": "accept_terms"}
{"agent": "join"}
{"user": "end_session"}
{"user": "logout"}"#,
    ));
    lines
}

mod server_drops_the_connection {
    use super::*;

    #[tokio::test]
    async fn mid_session_lockstep() {
        let records = lockstep(&drop_mid_session()).await;
        // the drop is step 4, the reconnect is made during step 5: the new connection
        // starts with init (S-N02), then the session resumes
        assert_eq!(
            kinds(&at_step(&records, 4)),
            ["event EventConnectionWarning"]
        );
        assert_eq!(
            kinds(&at_step(&records, 5)),
            [
                "event EventClearWarning",
                "send init",
                "send resume_session",
                "recv settings",
                "recv guest_count",
                "event EventGuestCountChange"
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mid_session_free_running() {
        free_running(&drop_mid_session()).await;
    }

    #[tokio::test]
    async fn mid_presence_lockstep() {
        let records = lockstep(&drop_mid_presence()).await;
        assert_eq!(
            kinds(&at_step(&records, 3)),
            ["event EventConnectionWarning"]
        );
        assert_eq!(
            kinds(&at_step(&records, 4)),
            [
                "event EventClearWarning",
                "send init",
                "send presence_connect",
                "recv settings",
                "recv presence_connected",
                "event EventPresenceConnected"
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mid_presence_free_running() {
        free_running(&drop_mid_presence()).await;
    }
}

/// Frames the core must refuse, sent in the middle of a session: three that do not decode,
/// one that decodes but does not fit the state (out of order), one of a wrong protocol
/// version. The simulator's counterpart of each is a
/// step that does nothing (`advance_ms: 0`); the transcripts differ by exactly the refusals,
/// and the session goes on untouched.
async fn malformed_frames_are_refused_and_change_nothing(options: Options) {
    let nothing = || Step::AdvanceMs(0);
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"user": "tap_cobrowse"}
{"agent": "join"}"#,
    );
    let faults = [
        "{not json",
        r#"{"type":"warp_drive"}"#,
        r#"{"type":"guest_count","guestcount":-1}"#,
        r#"{"type":"session_started","sessionkey":"9999"}"#,
        // a wrong protocol version
        r#"{"type":"settings","v":2,"key_length":4}"#,
    ];
    for raw in faults {
        lines.push(Line::fault(Fault::SendRaw(raw.to_owned()), nothing()));
    }
    lines.extend(steps(
        r#"{"agent": "leave"}
{"user": "end_session"}"#,
    ));
    let first_fault = 4;

    let records = play(&lines, options).await;
    assert_no_violation(&lines, &records);
    assert_eq!(kinds(&at_step(&records, 4)), ["error malformed_frame"]);
    assert_eq!(kinds(&at_step(&records, 5)), ["error malformed_frame"]);
    assert_eq!(kinds(&at_step(&records, 6)), ["error malformed_frame"]);
    assert_eq!(
        kinds(&at_step(&records, 7)),
        ["recv session_started", "error unexpected_frame"]
    );
    assert_eq!(kinds(&at_step(&records, 8)), ["error protocol_version"]);
    let rest: Vec<Record> = records
        .iter()
        .filter(|r| !(first_fault..first_fault + faults.len()).contains(&r.step))
        .cloned()
        .collect();
    let sim = simulate(&lines);
    match options.delivery {
        Delivery::Lockstep => assert_same(&rest, &sim),
        Delivery::Free => assert_same_apart_from_interleaving(&rest, &sim),
    }
}

/// The server is slow to answer a session start: the core's start timeout fires at exactly
/// 15 s (not at 14.999 s), the start fails, the button comes back; the late answers are
/// refused as out of state; the next tap starts a session normally.
async fn slow_server_times_out_a_session_start(options: Options) {
    let nothing = || Step::AdvanceMs(0);
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}"#,
    );
    lines.push(Line::fault(Fault::Stall, nothing())); // 2
    lines.extend(steps(
        r#"{"user": "tap_cobrowse"}
{"advance_ms": 14999}
{"advance_ms": 1}"#,
    )); // 3, 4, 5
    lines.push(Line::fault(Fault::Resume, nothing())); // 6
    lines.extend(steps(
        r#"{"user": "tap_cobrowse"}
{"agent": "join"}
{"agent": "end_session"}"#,
    )); // 7, 8, 9

    let records = play(&lines, options).await;
    assert_no_violation(&lines, &records);
    assert_eq!(
        kinds(&at_step(&records, 3)),
        [
            r#"ui {"hide":"cobrowse_button"}"#,
            "api start_session",
            "send start_session"
        ]
    );
    assert!(at_step(&records, 4).is_empty(), "nothing before 15 s");
    assert_eq!(
        kinds(&at_step(&records, 5)),
        [
            "send end_session",
            "event EventStartSessionFailed",
            r#"ui {"show":"cobrowse_button"}"#,
        ]
    );
    let failed = event_at(&records, 5, "EventStartSessionFailed");
    let Observed::Event(e) = &failed.observed else {
        unreachable!()
    };
    assert_eq!(e.prop("reason").as_deref(), Some("timeout"));
    // the late answers, in the server's order, each refused
    assert_eq!(
        kinds(&at_step(&records, 6)),
        [
            "recv session_started",
            "error unexpected_frame",
            "recv session_ended",
            "error unexpected_frame"
        ]
    );
    event_at(&records, 7, "EventConnectedToSession");
    event_at(&records, 8, "EventGuestCountChange");
    event_at(&records, 9, "EventSessionEnded");
}

/// The server is slow but answers before the timeout: the same records as the simulator's,
/// only caused by a later step (the one that lets the server answer).
async fn slow_server_answering_in_time(options: Options) {
    let nothing = || Step::AdvanceMs(0);
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}"#,
    );
    lines.push(Line::fault(Fault::Stall, nothing())); // 2
    lines.extend(steps(
        r#"{"user": "tap_cobrowse"}
{"advance_ms": 14999}"#,
    )); // 3, 4
    lines.push(Line::fault(Fault::Resume, nothing())); // 5
    lines.extend(steps(
        r#"{"agent": "join"}
{"user": "end_session"}"#,
    )); // 6, 7

    let records = play(&lines, options).await;
    assert_no_violation(&lines, &records);
    event_at(&records, 5, "EventConnectedToSession");
    // In both modes: each step's records form one causal chain (no two actors at once),
    // so the order is the simulator's; only the step of the late answer differs.
    assert_same_apart_from_steps(&records, &simulate(&lines));
}

/// Each fault in both delivery modes; free-running on two worker threads, so that the app,
/// the driver and the server really run at once.
mod faults_in_both_modes {
    use super::*;

    #[tokio::test]
    async fn malformed_frames_lockstep() {
        malformed_frames_are_refused_and_change_nothing(Options::LOCKSTEP).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_frames_free_running() {
        malformed_frames_are_refused_and_change_nothing(Options::FREE).await;
    }

    #[tokio::test]
    async fn slow_server_timeout_lockstep() {
        slow_server_times_out_a_session_start(Options::LOCKSTEP).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_server_timeout_free_running() {
        slow_server_times_out_a_session_start(Options::FREE).await;
    }

    #[tokio::test]
    async fn slow_server_in_time_lockstep() {
        slow_server_answering_in_time(Options::LOCKSTEP).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_server_in_time_free_running() {
        slow_server_answering_in_time(Options::FREE).await;
    }
}
