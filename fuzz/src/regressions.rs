//! Inputs on which a target once failed because the harness, not the core, was wrong; each
//! must now run clean. (Failures of the core are regular tests of the main crate:
//! `tests/fuzz_regressions.rs`.) Built as values, not artifact bytes, so that they outlive
//! changes to the byte format.

use crate::drive::{self, CoreInput, Op};
use crate::scenario::{self, FuzzScenario};
use cobrowse_visitor_conformance::transcript::{AgentAction, ScenarioConfig, Step};
use cobrowse_visitor_core::ServerFrame;
use cobrowse_visitor_core::UserIntent;
use cobrowse_visitor_core::{ApiCall, InitParams};
use cobrowse_visitor_core::{Input, Lifecycle, NetworkChange, SdkConfig};
use std::time::Duration;

fn core(config: ScenarioConfig, timings: Option<SdkConfig>, ops: Vec<Op>) {
    let input = CoreInput {
        config,
        auto_server: false,
        timings,
        ops,
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-331b3801: the host terminated the SDK before the app launched; the controller's
/// `init_visitor` was then refused. A terminate outside `exit` goes around the controller.
#[test]
fn terminate_outside_exit_bypasses_the_controller() {
    core(
        ScenarioConfig::default(),
        None,
        vec![
            Op::Lifecycle(Lifecycle::Terminate),
            Op::User(UserIntent::Launch),
            Op::Lifecycle(Lifecycle::Background),
        ],
    );
}

/// crash-3cdb56f5: a "stale" input was stamped before the harness clock, not before the
/// SDK's last accepted time, and was rightly accepted.
#[test]
fn stale_is_measured_from_the_last_accepted_time() {
    core(
        ScenarioConfig::default(),
        None,
        vec![
            Op::User(UserIntent::Launch),
            Op::Advance {
                ms: 65_282,
                exact: true,
            },
            Op::Stale {
                back_ms: 14_084,
                input: Input::Lifecycle(Lifecycle::Background),
            },
        ],
    );
}

/// timeout-3fad3c66: 1 ms reconnect timers over an 11 000 s exact advance woke the SDK
/// 11 million times.
#[test]
fn exact_advances_wake_a_bounded_number_of_times() {
    let short = SdkConfig {
        reconnect_backoff_base: Duration::from_millis(1),
        reconnect_backoff_max: Duration::from_millis(1),
        ..SdkConfig::default()
    };
    let started = std::time::Instant::now();
    core(
        ScenarioConfig::default(),
        Some(short),
        vec![
            Op::User(UserIntent::Launch),
            Op::Network(NetworkChange::Lost),
            Op::Advance {
                ms: 2_550_000,
                exact: true,
            },
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// crash-bf076b76: the controller's `presence_connect`, refused because the app had connected
/// presence itself, was followed in the same advance by the retry timer's `presence_connect`
/// frame, which the oracle took for an effect of the refusal. Each wake-up now has its own
/// line.
#[test]
fn a_wake_up_after_a_refusal_is_a_line_of_its_own() {
    core(
        ScenarioConfig {
            group_id: 40,
            custom_ui: false,
            seed: 6,
            ..ScenarioConfig::default()
        },
        None,
        vec![
            Op::User(UserIntent::Launch),
            Op::Frame(ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: false,
            }),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Api(ApiCall::presence_connect()),
            Op::Advance {
                ms: 510_000,
                exact: true,
            },
        ],
    );
}

/// crash-87bfb32f: `exit` with presence on in the controller's view but off in the SDK's (the
/// app had re-initialised it directly): the controller's `presence_disconnect` was refused,
/// and the terminate that `sim::World` feeds after it sent `end_session` under the same line.
#[test]
fn the_terminate_after_exit_is_not_judged_as_the_refusals_effect() {
    let long = InitParams {
        token: "e".repeat(128),
        ..InitParams::anonymous(19921)
    };
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: Some(ScenarioConfig {
            // u32::MAX when found; the group id is an Int32 now: its largest
            group_id: i32::MAX,
            custom_ui: true,
            seed: 0,
            ..ScenarioConfig::default()
        }),
        steps: vec![
            Step::Api(ApiCall::InitVisitor(long.clone())),
            Step::User(UserIntent::Launch),
            Step::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Step::Api(ApiCall::start_session(
                cobrowse_visitor_core::StartKey::Random,
            )),
            Step::Api(ApiCall::InitVisitor(long)),
            Step::User(UserIntent::Exit),
            Step::User(UserIntent::EndSession),
            Step::Agent(AgentAction::Join),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}

/// crash-70addb41: a direct `init_visitor` with group 15 and a visitor id before `launch`;
/// the controller's `launch` and `login` were then refused (`group_id_mismatch`), so presence
/// was never connected, and `check` owed LIVE-PRESENCE from the login: the app's misuse, which
/// a direct `api` step anywhere before the login now excuses (spec.md §10.4).
#[test]
fn a_direct_init_with_another_group_before_login_owes_no_presence() {
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: None,
        steps: vec![
            Step::Api(ApiCall::InitVisitor(InitParams::identified(15, "a"))),
            Step::User(UserIntent::Launch),
            Step::User(UserIntent::Launch),
            Step::User(UserIntent::Login {
                visitor_id: "A-z_0~9".into(),
            }),
            Step::User(UserIntent::TapCobrowse),
            Step::Agent(AgentAction::Join),
            Step::AdvanceMs(600_000),
            Step::User(UserIntent::TapCobrowse),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}

/// `drive_core` judges agreement and progress when its input is one a scenario could say and
/// the service answers: the seed journey of a login, one-click and a network loss heals.
#[test]
fn a_scenario_like_input_is_judged_for_progress_and_heals() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Agent(AgentAction::StartPresenceSession),
            Op::User(UserIntent::AcceptTerms),
            Op::Network(NetworkChange::Lost),
            Op::Agent(AgentAction::Join),
            Op::Advance {
                ms: 20_000,
                exact: true,
            },
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// timeout-741a92d0: terms displayed in the background with `background_suspend` at its 1 ms
/// floor: S-T07b asks again every millisecond, so every long exact advance woke the budget's
/// full count. The budget of exact wake-ups is now per input, not per op.
#[test]
fn a_one_millisecond_re_arm_does_not_wake_every_advance_to_its_budget() {
    let fast = SdkConfig {
        background_suspend: Duration::from_millis(1),
        ..SdkConfig::default()
    };
    let mut ops = vec![
        Op::User(UserIntent::Launch),
        Op::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        }),
        Op::User(UserIntent::Login {
            visitor_id: "cust-42".into(),
        }),
        Op::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        }),
        Op::Frame(ServerFrame::PresenceConnected {}),
        Op::Frame(ServerFrame::PresenceShowTerms { request_id: 1 }),
        Op::Lifecycle(Lifecycle::Background),
    ];
    ops.extend((0..40).map(|_| Op::Advance {
        ms: 2_270_000,
        exact: true,
    }));
    core(ScenarioConfig::default(), Some(fast), ops);
}

/// Since INV-GROUP-STABLE holds every init to the config's group id (issue 12): an app that
/// inits the SDK itself with another group before the controller does makes the SDK hold to
/// that group (the controller's init is refused, S-A02). The oracle flags the app's inits;
/// both targets take them for the app's own choice (`oracle::GroupChoice`), not a finding.
#[test]
fn a_group_the_app_chose_itself_is_not_a_finding() {
    let app_group = InitParams::anonymous(19921);
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: Some(ScenarioConfig {
            group_id: 40,
            custom_ui: true,
            seed: 0,
            ..ScenarioConfig::default()
        }),
        steps: vec![
            Step::Api(ApiCall::InitVisitor(app_group.clone())),
            Step::User(UserIntent::Launch),
            Step::Api(ApiCall::InitVisitor(InitParams::identified(
                19921, "cust-42",
            ))),
            Step::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
    let input = CoreInput {
        config: ScenarioConfig {
            group_id: 40,
            custom_ui: false,
            seed: 0,
            ..ScenarioConfig::default()
        },
        auto_server: true,
        timings: None,
        ops: vec![
            Op::Api(ApiCall::InitVisitor(app_group)),
            Op::User(UserIntent::Launch),
            Op::Api(ApiCall::InitVisitor(InitParams::identified(
                19921, "cust-42",
            ))),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-46cf93b4 (the last recorded CI run): offline, backgrounded and foregrounded, then
/// `advance_ms` of 91 hours: the presence connect backs off at 30 s and wakes about 11,000
/// times, each wake-up moving the clock. INV-SDK-REPLAY's replay counted every wake-up of the
/// step against its cap and called the trace one it could not replay; the cap is now on
/// wake-ups in a row at one instant (a timer that stays due), the only endless case.
#[test]
fn a_long_offline_advance_replays_every_backoff() {
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: Some(ScenarioConfig {
            group_id: 19921,
            custom_ui: true,
            seed: 0,
            ..ScenarioConfig::default()
        }),
        steps: vec![
            Step::User(UserIntent::Launch),
            Step::User(UserIntent::Launch),
            Step::User(UserIntent::AcceptTerms),
            Step::Network(NetworkChange::Lost),
            Step::Lifecycle(Lifecycle::Background),
            Step::Lifecycle(Lifecycle::Foreground),
            Step::AdvanceMs(327_745_531),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}

/// crash-cc0327cd (drive_core, issue 14): a `user presence_data` while the first
/// `init_visitor` is pending, or with data the SDK refuses. The controller passed it through
/// (C-U70) and the SDK refused it (S-A92, S-A81): a refused controller call,
/// INV-CONTROLLER-CALLS-ACCEPTED. Fixed in the core: the controller refuses such an intent
/// itself (C-U71, C-U72), so no check is skipped any more.
#[test]
fn c_u70_refuses_presence_data_the_sdk_would_refuse() {
    use cobrowse_visitor_conformance::oracle::check_trace;
    use cobrowse_visitor_conformance::oracle::interleave;
    use cobrowse_visitor_conformance::sim::World;
    use std::collections::BTreeMap;
    let too_long = BTreeMap::from([("page".to_owned(), "p".repeat(256))]);
    let steps = vec![
        Step::User(UserIntent::Launch),
        Step::User(UserIntent::PresenceData { map: too_long }),
    ];
    let records = World::run(&steps).expect("settles");
    let lines: Vec<_> = interleave(&steps, &records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let found = check_trace(&lines);
    assert!(found.is_empty(), "{found:?}");
    // and during the first init, with the server silent (the fuzzer's input)
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: false,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::PresenceData {
                map: BTreeMap::new(),
            }),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-2726b6de (drive_core, issue 14): under `limits: web_compatible` the controller
/// validated a login under the default profile and passed a 62-character id the SDK refuses:
/// a refused controller `init_visitor`, INV-CONTROLLER-CALLS-ACCEPTED. Fixed in the core: the
/// controller has the SDK's limits (`ControllerConfig::limits`, C-U21).
#[test]
fn controller_validates_login_under_the_sdks_limits() {
    use cobrowse_visitor_conformance::oracle::{check_trace, interleave};
    use cobrowse_visitor_conformance::sim::World;
    use cobrowse_visitor_core::Limits;
    let steps = vec![
        Step::Config(ScenarioConfig {
            limits: Limits::WebCompatible,
            ..ScenarioConfig::default()
        }),
        Step::User(UserIntent::Launch),
        Step::User(UserIntent::Login {
            visitor_id: "v".repeat(62),
        }),
    ];
    let records = World::run(&steps).expect("settles");
    let lines: Vec<_> = interleave(&steps, &records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let found = check_trace(&lines);
    assert!(found.is_empty(), "{found:?}");
    let scenario = FuzzScenario::from_steps(&steps);
    if let Err(f) = scenario::run(&scenario) {
        panic!("{f}");
    }
}

/// crash-574afd42 (drive_scenario, issue 14): the app's own `init_visitor` with another group
/// than the config's, in a scenario whose config sets a key of spec.md §13.1: read plain, the
/// config line (now kept, `oracle::plain`) made the config's group the reference, and the
/// app's own choice, excused on the interleaved reading, was flagged on the plain one.
#[test]
fn an_own_group_choice_is_excused_on_the_plain_reading_too() {
    use cobrowse_visitor_core::ConsentPolicy;
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: Some(ScenarioConfig {
            group_id: 100,
            consent_policy: ConsentPolicy::AgentMayStart,
            ..ScenarioConfig::default()
        }),
        steps: vec![
            Step::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
            Step::User(UserIntent::Launch),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}

/// crash-336b1c66 (drive_core, issue 15): launched with a silent server (no
/// `EventVisitorInitialized`, so no snapshot), relaunched: the app came back new, and its own
/// direct `init_visitor` with group 2 is the new process's first: the app's choice of group
/// (`GroupChoice` now starts again after a relaunch that brought the app back new), not a
/// broken INV-GROUP-STABLE or INV-RESTORE-GROUP.
#[test]
fn a_new_process_after_a_relaunch_chooses_its_group_again() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: false,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::Relaunch { away_ms: 64 },
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Network(NetworkChange::Lost),
            Op::Api(ApiCall::InitVisitor(InitParams::anonymous(2))),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): a warning left uncleared by a process the host terminated,
/// then a relaunch (new process) and a loss there: two warnings in a row, but of two
/// processes. INV-WARNING-PAIRED and INV-NO-SEND-OFFLINE start anew at a `relaunch` line.
#[test]
fn a_relaunch_starts_a_new_warning_banner() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::Network(NetworkChange::Lost),
            Op::Lifecycle(cobrowse_visitor_core::Lifecycle::Terminate),
            Op::Relaunch { away_ms: 1_160_000 },
            Op::User(UserIntent::Launch),
            Op::Network(NetworkChange::Lost),
            Op::Network(NetworkChange::Restored),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): a group without presence, the app relaunched: the restored
/// controller connects presence again (C-R01) with no re-init. A new process keeps no
/// presence (§5.6) and looks again, so INV-NOT-CONFIGURED starts anew at a `relaunch` line.
#[test]
fn a_relaunch_looks_for_presence_again() {
    let input = CoreInput {
        config: ScenarioConfig {
            presence: false,
            ..ScenarioConfig::default()
        },
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Relaunch { away_ms: 1_000 },
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): a start in flight when the app was killed (no answer from a
/// silent server), relaunched, and a new start: the restore keeps only a running session
/// (§5.6), so the reader drops the starting one at the `relaunch` line (INV-ONE-SESSION).
#[test]
fn a_start_in_flight_is_gone_after_a_relaunch() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::Network(NetworkChange::Lost),
            Op::User(UserIntent::TapCobrowse),
            Op::Relaunch { away_ms: 1_000 },
            Op::Network(NetworkChange::Restored),
            Op::User(UserIntent::TapCobrowse),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): the button shown, the host terminated the SDK, the app
/// relaunched new and launched offline in the background: its tap is on a button the new
/// process never drew. INV-MANUAL-RANDOM's button starts hidden at a `relaunch` line.
#[test]
fn a_relaunched_screen_starts_empty() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::Network(NetworkChange::Lost),
            Op::Lifecycle(cobrowse_visitor_core::Lifecycle::Terminate),
            Op::Relaunch { away_ms: 20_000 },
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::TapCobrowse),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): the network lost, the app relaunched before it ever
/// initialized (a new process), then launched: the new core believed its link up, so the
/// heal suffix's `network restored` did nothing and the service never heard of the visitor
/// (LIVE-INIT). The world now tells a new process that the network is down (§13.2).
#[test]
fn a_new_process_hears_the_network_is_down() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::Network(NetworkChange::Lost),
            Op::Relaunch { away_ms: 4_103 },
            Op::Agent(AgentAction::StartPresenceSession),
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::TogglePause),
            Op::Agent(AgentAction::EndSession),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): paused, the link lost, unpaused while offline (the core
/// sends nothing then), the link back: S-N02 re-sends a pause only when paused, so a service
/// that kept the old `paused` disagreed (INV-AGREEMENT). The simulated service's pause and
/// user state now go with the connection, as S-N02's re-sending assumes (§13.2).
#[test]
fn an_unpause_while_offline_reaches_the_service() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Agent(AgentAction::StartPresenceSession),
            Op::User(UserIntent::AcceptTerms),
            Op::Agent(AgentAction::Join),
            Op::User(UserIntent::TogglePause),
            Op::Network(NetworkChange::Lost),
            Op::Advance {
                ms: 10_528,
                exact: true,
            },
            Op::Agent(AgentAction::Join),
            Op::User(UserIntent::TogglePause),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-ca1467a7 (drive_core, issue 15): the app's own `init_visitor` with group 6 held the
/// SDK to that group (the controller's 19921 refused, S-A02); a session ran; at the relaunch
/// `Sdk::restore` refused the snapshot of another group than the app's (§5.6), and the world
/// brought the app back new without a word, so the oracle still saw the session run. The
/// world now records `error` `restore_refused`, and the reader drops the session there.
#[test]
fn a_refused_restore_is_recorded_and_ends_what_ran() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::Api(ApiCall::InitVisitor(InitParams::anonymous(6))),
            Op::User(UserIntent::Launch),
            Op::Api(ApiCall::start_session(
                cobrowse_visitor_core::StartKey::Random,
            )),
            Op::Relaunch { away_ms: 1_160_000 },
            Op::User(UserIntent::Launch),
            Op::Api(ApiCall::start_session(
                cobrowse_visitor_core::StartKey::Random,
            )),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash (drive_core, issue 15): a one-click start in flight at a relaunch is gone with the
/// old process (§5.6); INV-KEY-HIDDEN-PRESENCE held it on, and flagged the key of the manual
/// session the customer started after. It now forgets a one-click session the reader says
/// is gone at the `relaunch` line (a running one is carried across).
#[test]
fn a_one_click_start_in_flight_is_gone_after_a_relaunch() {
    let input = CoreInput {
        config: ScenarioConfig::default(),
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Agent(AgentAction::StartPresenceSession),
            Op::Network(NetworkChange::Lost),
            Op::User(UserIntent::AcceptTerms),
            Op::Relaunch { away_ms: 1_000 },
            Op::Network(NetworkChange::Restored),
            Op::User(UserIntent::TapCobrowse),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-e5b80c81 (drive_scenario, issue 15): the app's own `init_visitor` with group 139,
/// then `launch` (its 19921 refused, S-A02), a relaunch whose restore refused the snapshot of
/// group 139, and a `launch` in the new process with 19921: the app split the visitor across
/// groups itself (GroupChoice excuses INV-GROUP-STABLE and INV-RESTORE-GROUP there).
#[test]
fn the_app_splits_its_visitor_across_a_relaunch_itself() {
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: None,
        steps: vec![
            Step::Api(ApiCall::InitVisitor(InitParams::anonymous(139))),
            Step::User(UserIntent::Launch),
            Step::Relaunch { away_ms: 0 },
            Step::User(UserIntent::Launch),
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}

/// crash-fee968d5 (drive_scenario, issue 15): as crash-e5b80c81, then one more relaunch, which
/// restores the new app (group 19921): its `send init` carries 19921, and INV-RESTORE-GROUP
/// took the first app's 139 as the reference. A relaunch that came back new (`restore_refused`)
/// begins a new app; the reference is now its own first group (the checker, spec.md
/// INV-RESTORE-GROUP).
#[test]
fn a_new_app_after_a_refused_restore_is_restored_with_its_own_group() {
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: None,
        steps: vec![
            Step::Api(ApiCall::InitVisitor(InitParams::anonymous(139))),
            Step::User(UserIntent::Launch),
            Step::Relaunch { away_ms: 0 },
            Step::User(UserIntent::Launch),
            Step::Relaunch { away_ms: 2_510_000 },
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}
/// crash-52efccd3 (drive_core, issue 15, recorded at 5d5871f as "a terms answer refused after
/// hostile frames and a relaunch"): under `agent_may_start` with the group's `agent_start`,
/// the agent's one-click request put the terms on screen (C-E22, `displayed`), then the
/// agent's start without terms replaced the request (S-F25) and started the session (C-E26,
/// S-A26 consumed the grant); C-E26 left the dialog on screen, so `decline_terms` answered a
/// request the core no longer had: S-A56 refused the controller's
/// `presence_signal_agent(terms, declined)` (INV-CONTROLLER-CALLS-ACCEPTED). A defect of the
/// core (the controller against S-F25), fixed on main before this finding was analysed: C-E26
/// hides the terms it replaces (spec.md §6, 1497bbd), and the decline is the controller's
/// own refusal (C-U32). Minimised from the artifact's 55 ops (a relaunch and a hostile
/// `presence_start_session` kept from it; neither is needed); the row test is
/// `c_e26_then_decline_terms_is_refused_by_the_controller` in `tests/controller_transitions.rs`,
/// the journey `agent_start_over_displayed_terms_then_decline` in `tests/fuzz_regressions.rs`.
#[test]
fn an_agent_start_over_displayed_terms_takes_the_dialog_down() {
    use cobrowse_visitor_core::ConsentPolicy;
    let input = CoreInput {
        config: ScenarioConfig {
            consent_policy: ConsentPolicy::AgentMayStart,
            agent_start: true,
            ..ScenarioConfig::default()
        },
        auto_server: true,
        timings: None,
        ops: vec![
            Op::User(UserIntent::Launch),
            Op::User(UserIntent::TapCobrowse),
            Op::Relaunch { away_ms: 970_000 },
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            Op::Agent(AgentAction::StartPresenceSession),
            Op::Agent(AgentAction::StartWithoutTerms),
            Op::Frame(ServerFrame::PresenceStartSession { request_id: 1 }),
            Op::User(UserIntent::DeclineTerms),
        ],
    };
    if let Err(f) = drive::run(&input) {
        panic!("{f}");
    }
}

/// crash-6f5bd54a (drive_core, issue 15, in a 4-minute run after the relaunch work): logged
/// in with presence connected, relaunched; the restored app connected presence again and a
/// hostile service said it is not configured; then `exit`. INV-DISCONNECT-ON-LOGOUT still
/// held the old process's presence as connected and owed a disconnect the new process had no
/// presence for (C-U60 calls it only for presence connecting or connected). A misreading of
/// the check: a `relaunch` line starts a new process without presence (§5.6, §13.2).
#[test]
fn a_relaunch_leaves_no_presence_to_disconnect_on_exit() {
    let settings = || {
        Op::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        })
    };
    core(
        ScenarioConfig::default(),
        None,
        vec![
            Op::User(UserIntent::Launch),
            settings(),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            settings(),
            Op::Frame(ServerFrame::PresenceConnected {}),
            Op::Relaunch { away_ms: 10_000 },
            Op::Frame(ServerFrame::PresenceNotConfigured {}),
            Op::User(UserIntent::Exit),
        ],
    );
}

/// crash-786a1cf1 (drive_core, issue 15, the next 4-minute run): presence connected, the app
/// backgrounded until the SDK suspended presence (S-T07), brought to the front (S-L02b
/// connects again), the service said presence is not configured (S-F27, C-E28), then
/// `logout`: C-U50 calls no disconnect for presence not configured, and the SDK would refuse
/// one (S-A61). INV-DISCONNECT-ON-LOGOUT still held presence as connected; it now reads
/// `EventPresenceNotConfigured` and a final `EventPresenceConnectFail` as presence going off
/// (spec.md §10.1).
#[test]
fn presence_not_configured_after_a_suspension_owes_no_disconnect() {
    let settings = || {
        Op::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        })
    };
    core(
        ScenarioConfig::default(),
        None,
        vec![
            Op::User(UserIntent::Launch),
            settings(),
            Op::User(UserIntent::Login {
                visitor_id: "cust-42".into(),
            }),
            settings(),
            Op::Frame(ServerFrame::PresenceConnected {}),
            Op::Lifecycle(Lifecycle::Background),
            Op::Advance {
                ms: 90_000,
                exact: true,
            },
            Op::Lifecycle(Lifecycle::Foreground),
            Op::Frame(ServerFrame::PresenceNotConfigured {}),
            Op::User(UserIntent::Logout),
        ],
    );
}

/// crash-6c180fe3 (drive_scenario, issue 15; it fails at this branch's base too): no config
/// line, the app's own `init_visitor` with group 169 (the reference, the first accepted one),
/// then `launch` (its 19921 refused, S-A02); a relaunch whose restore refused the snapshot of
/// group 169 brought the app back new, whose `launch` chose 19921; a second relaunch restored
/// that process, whose new link sent `init` with 19921 (S-N02). GroupChoice excused a choice
/// made after a relaunch only against a config line's group; without one it is the first
/// accepted init's group, and the restored process's `send init` carries the app's own
/// choice (INV-RESTORE-GROUP).
#[test]
fn a_choice_after_a_relaunch_is_the_apps_without_a_config_line() {
    let s = FuzzScenario {
        relaunch_probe: 0,
        config: None,
        steps: vec![
            Step::Api(ApiCall::InitVisitor(InitParams::anonymous(169))),
            Step::User(UserIntent::Launch),
            Step::Relaunch { away_ms: 0 },
            Step::User(UserIntent::Launch),
            Step::Relaunch { away_ms: 10_000 },
        ],
    };
    if let Err(f) = scenario::run(&s) {
        panic!("{f}");
    }
}
