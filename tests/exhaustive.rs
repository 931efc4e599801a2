//! Bounded exhaustive exploration: every scenario of up to `EXHAUSTIVE_DEPTH` steps over the
//! finite alphabet of the testkit's `explore` (19 letters: user intents — `presence_data` once
//! the app is initialized —, agent actions, lifecycle, network, "advance to the next
//! deadline", "advance 60 s"), breadth first, states deduplicated. On every step explored:
//!
//! - the real world follows the reference model (the testkit's `reference`): the same records, the
//!   same SDK, controller and server states;
//! - the one invariant oracle finds no violation in the transcript so far (interleaved with
//!   its scenario lines, so every invariant is judged, INV-CONTROLLER-CALLS-ACCEPTED included:
//!   the alphabet has no direct `api` steps);
//! - a refused user intent leaves the controller as it was (INV-REFUSED-UNCHANGED);
//! - issue 14's invariants the simulator can reach (INV-PRESENCE-DATA above all: the
//!   `presence_data` letter, reconnects, suspensions; INV-CONSENT-POLICY's grant for every
//!   one-click start) hold on the SDK's records (`judge::PresenceJudge`);
//! - INV-AGREEMENT holds, and from the state reached the heal suffix delivers every liveness
//!   property (LIVE-INIT, LIVE-PRESENCE, LIVE-SESSION-RESOLVES, LIVE-GUEST-COUNT) and the
//!   background suffix LIVE-BACKGROUND-SUSPEND (spec.md §10.4).
//!
//! CI runs it at depth 10 in debug (8 without custom UI). The deep run, in release:
//! `EXHAUSTIVE_DEPTH=12 cargo test --release --test exhaustive -- --nocapture`.
//!
//! The simulator of this branch plays none of issue 14's agent steps (a custom signal, an
//! agent start, a group without presence), so `exhaustive_sdk_presence` explores the SDK
//! core alone over an alphabet with every new call and frame, against the reference model,
//! and judges issue 14's invariants there (`EXHAUSTIVE_SDK_DEPTH`, default 6). Issue 15's
//! calls and frame (pause, user message and state, the agent's `user_message`) are in that
//! SDK alphabet and in the controller's fixed point (toggle_pause, send_message,
//! set_user_state, EventMessageReceived); the world's alphabet has none of them (a world
//! letter multiplies the deep run; the model suite's world generators play them).
//! (Times are printed, never asserted.)

use cobrowse_visitor_testkit::{explore, reference, sut};

use cobrowse_visitor_conformance::liveness;
use cobrowse_visitor_conformance::oracle::machine;
use cobrowse_visitor_conformance::transcript::{ScenarioConfig, Step};
use cobrowse_visitor_testkit::judge::PresenceJudge;
use explore::{explore, Explored};
use reference::MWorld;
use std::time::Instant;
use sut::{compare, TraceCheck};

/// Depth in CI (debug build) unless `EXHAUSTIVE_DEPTH` says otherwise.
const CI_DEPTH: usize = 10;

#[derive(Clone)]
struct Walk {
    model: MWorld,
    check: TraceCheck,
    steps: usize,
    /// Issue 14's invariants, on the SDK's records (this branch's oracle predates them).
    judge: PresenceJudge,
}

fn run(custom_ui: bool, depth: usize) -> Explored {
    let config = ScenarioConfig {
        custom_ui,
        ..ScenarioConfig::default()
    };
    let first = Step::Config(config.clone());
    let mut root = Walk {
        model: MWorld::new(config.group_id, custom_ui),
        check: TraceCheck::default(),
        steps: 1,
        judge: PresenceJudge::new(cobrowse_visitor_core::ConsentPolicy::TermsRequired),
    };
    root.model.apply(0, &first);
    root.check.step(&first);
    explore(
        &config,
        depth,
        root,
        |walk, before, step, after, records| {
            if let Step::User(intent) = step {
                let mut c = before.controller().clone();
                let was = c.state().clone();
                let result = c.handle_user(intent.clone());
                if let Some(v) = machine::controller_refused_unchanged(&was, c.state(), &result) {
                    return Err(v.to_string());
                }
            }
            walk.model.apply(walk.steps, step);
            walk.steps += 1;
            compare(after, records, &walk.model)?;
            walk.check.step(step);
            for r in records {
                walk.check.record(r);
            }
            let v = walk.check.violations();
            if !v.is_empty() {
                return Err(v.iter().map(|v| format!("{v}\n")).collect());
            }
            if let Some(f) = walk.judge.observe_records(records).first() {
                return Err(f.to_string());
            }
            // agreement and progress (spec.md §10.4) from every state reached
            if let Some(f) = liveness::agreement(after) {
                return Err(f.to_string());
            }
            let found = liveness::heal_and_judge(after, walk.steps).map_err(|e| e.to_string())?;
            match found.first() {
                None => Ok(()),
                Some(f) => Err(format!("{f} (after the heal suffix)")),
            }
        },
        |_, _| {},
    )
}

fn depth() -> usize {
    std::env::var("EXHAUSTIVE_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(CI_DEPTH)
}

/// Every scenario up to the depth, custom UI on (the contract's default).
#[test]
fn exhaustive_custom_ui() {
    let depth = depth();
    let t = Instant::now();
    let e = run(true, depth);
    println!(
        "exhaustive (custom_ui): depth {}, {} states, {} steps explored, {:.1} s; new states per depth {:?}",
        e.depth,
        e.states,
        e.edges,
        t.elapsed().as_secs_f64(),
        e.per_depth
    );
    assert!(e.states > 1);
}

/// The same without custom UI (the SDK's default UI stays on), to a smaller depth.
#[test]
fn exhaustive_default_ui() {
    let depth = depth().saturating_sub(2).max(1);
    let t = Instant::now();
    let e = run(false, depth);
    println!(
        "exhaustive (default ui): depth {}, {} states, {} steps explored, {:.1} s",
        e.depth,
        e.states,
        e.edges,
        t.elapsed().as_secs_f64()
    );
    assert!(e.states > 1);
}

/// The controller alone, to a fixed point: from launch, every reachable controller state
/// (the model's, which the real controller's projects onto exactly) is fed every input of a
/// finite alphabet — every user intent and every kind of SDK event — and the real
/// controller must give the model's result, outputs, state and rows. The state space is
/// small (a few thousand states), so this covers every reachable state, not a sample: the
/// `offer` rows (spec.md §6) agree with the model in all of them.
#[test]
fn controller_agrees_in_every_reachable_state() {
    use cobrowse_visitor_core::{
        CallName, Controller, ControllerConfig, ErrorCode, Event, KeyType, Lifecycle, UserIntent,
    };
    use cobrowse_visitor_testkit::machines::drain_ctl;
    use cobrowse_visitor_testkit::sut::ctl_state;
    use cobrowse_visitor_testkit::transition::CtlTransition as C;
    use std::collections::HashSet;

    let login = |id: &str| UserIntent::Login {
        visitor_id: id.into(),
    };
    let mut alphabet: Vec<C> = [
        UserIntent::Launch,
        UserIntent::TapCobrowse,
        login("cust-42"),
        login("cust-7"),
        login("bad id"),
        UserIntent::AcceptTerms,
        UserIntent::DeclineTerms,
        UserIntent::EndSession,
        UserIntent::Logout,
        UserIntent::Exit,
        UserIntent::PresenceData {
            map: [("page".to_owned(), "cart".to_owned())].into(),
        },
        // issue 15: C-U80-C-U85
        UserIntent::TogglePause,
        UserIntent::SendMessage {
            name: "cart_opened".into(),
            map: Default::default(),
        },
        UserIntent::SendMessage {
            name: String::new(),
            map: Default::default(),
        },
        UserIntent::SetUserState {
            name: "step".into(),
            value: "cart".into(),
        },
    ]
    .into_iter()
    .map(C::User)
    .collect();
    alphabet.push(C::Lifecycle(Lifecycle::Background));
    for keytype in [KeyType::Random, KeyType::VisitorId, KeyType::Custom] {
        alphabet.push(C::Event(Event::ConnectedToSession {
            sessionkey: "4821".into(),
            keytype,
        }));
    }
    for call in [CallName::StartSession, CallName::InitVisitor] {
        alphabet.push(C::Event(Event::InvalidState {
            call,
            code: ErrorCode::SessionActive,
        }));
        alphabet.push(C::Event(Event::InvalidParameter {
            call,
            code: ErrorCode::InvalidParameter,
        }));
    }
    alphabet.extend(
        [
            Event::VisitorInitialized {
                settings_loaded: true,
            },
            Event::GuestCountChange { guestcount: 1 },
            Event::SessionEnded {
                reason: "agent_ended".into(),
            },
            Event::StartSessionFailed {
                reason: "timeout".into(),
            },
            Event::PresenceConnected,
            Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: Some(1_000),
            },
            Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: None,
            },
            Event::PresenceStartSession { request_id: 3 },
            Event::PresenceSignal {
                event: "open_page".into(),
                map: [("page".to_owned(), "checkout".to_owned())].into(),
            },
            Event::PresenceNotConfigured,
            Event::PresenceSendFail {
                call: CallName::PresenceSignalAgent,
                code: ErrorCode::PresenceSendFail,
            },
            Event::PresenceShowTerms { request_id: 1 },
            Event::PresenceShowTerms { request_id: 2 },
            Event::PresenceDisconnected,
            Event::PresenceBlur,
            Event::ConnectionWarning,
            Event::ClearWarning,
            // C-E31
            Event::MessageReceived {
                name: "note".into(),
                map: Default::default(),
            },
        ]
        .into_iter()
        .map(C::Event),
    );
    for custom_ui in [true, false] {
        let config = ControllerConfig {
            group_id: 19921,
            custom_ui,
            ..ControllerConfig::default()
        };
        let root = (Controller::new(config.clone()), MCtl::new(19921, custom_ui));
        let mut seen = HashSet::from([root.1.clone()]);
        let mut frontier = vec![root];
        let mut edges = 0usize;
        while let Some((real, model)) = frontier.pop() {
            for t in &alphabet {
                let mut c = real.clone();
                let (result, want) = match t {
                    C::User(i) => (
                        c.handle_user(i.clone()).map_err(|e| e.code()),
                        model.user(i),
                    ),
                    C::Event(e) => {
                        c.handle_event(e);
                        (Ok(()), model.event(e))
                    }
                    C::Lifecycle(l) => {
                        c.handle_lifecycle(*l);
                        (Ok(()), model.lifecycle())
                    }
                };
                edges += 1;
                let out = drain_ctl(&mut c);
                let got = (result, out, ctl_state(&c), c.last_rows().to_vec());
                let expected = (want.result, want.out, want.next.clone(), want.rows);
                assert_eq!(got, expected, "{t:?} in {model:?}");
                if seen.insert(want.next.clone()) {
                    frontier.push((c, want.next));
                }
            }
        }
        println!(
            "controller (custom_ui {custom_ui}): {} states, {edges} inputs",
            seen.len()
        );
    }
}

use reference::MCtl;

/// Depth of the SDK core's exploration in CI (debug build) unless `EXHAUSTIVE_SDK_DEPTH`
/// says otherwise.
const SDK_CI_DEPTH: usize = 6;

/// The SDK core alone, every sequence of up to `SDK_CI_DEPTH` letters of the testkit's
/// `sdk_alphabet` (issue 14's calls and frames beside the ones they interact with, lifecycle,
/// network, the next deadline), breadth first, states deduplicated, from two roots under each
/// consent policy: a new core, a core with presence connected for a visitor id whose
/// settings say `agent_start`, and that core with a one-click session running (issue 15). On every input: the core follows the reference model (result,
/// outputs, state, rows) under its configuration, and the judges of INV-CONSENT-POLICY,
/// INV-CONNECT-ATTEMPTS, INV-NOT-CONFIGURED and INV-PRESENCE-DATA find nothing.
#[test]
fn exhaustive_sdk_presence() {
    use cobrowse_visitor_core::{
        ApiCall, ConsentPolicy, Input, Limits, Sdk, ServerFrame, StartKey, TermsStatus,
    };
    use cobrowse_visitor_testkit::explore::{explore_sdk, sdk_alphabet};
    use cobrowse_visitor_testkit::judge::PresenceJudge;
    use cobrowse_visitor_testkit::machines::connected_prefix;
    use reference::{MConfig, MSdk};
    use std::hash::{Hash, Hasher};

    let depth = std::env::var("EXHAUSTIVE_SDK_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(SDK_CI_DEPTH);
    let alphabet = sdk_alphabet();
    let t = Instant::now();
    let (mut states, mut edges) = (0, 0);
    for policy in [ConsentPolicy::AgentMayStart, ConsentPolicy::TermsRequired] {
        let cfg = MConfig {
            consent_policy: policy,
            limits: Limits::Glance5,
        };
        // a one-click session running (issue 15: pause, user messages and state, S-N02's
        // re-sends, S-F30 within reach of every letter)
        let mut running = connected_prefix(true);
        running.extend([
            Input::Frame(ServerFrame::PresenceShowTerms { request_id: 1 }),
            Input::Api(ApiCall::terms(TermsStatus::Displayed)),
            Input::Api(ApiCall::terms(TermsStatus::Accepted)),
            Input::Api(ApiCall::start_session(StartKey::VisitorId)),
            Input::Frame(ServerFrame::SessionStarted {
                sessionkey: "cust-42".into(),
            }),
        ]);
        for prefix in [vec![], connected_prefix(true), running] {
            let mut sdk = Sdk::new(cfg.sdk_config());
            let mut model = MSdk::with_config(cfg);
            let mut judge = PresenceJudge::new(policy);
            for input in &prefix {
                let result = sdk.handle_input(cobrowse_visitor_core::Instant::ZERO, input.clone());
                let out = cobrowse_visitor_testkit::machines::drain(&mut sdk);
                model = model.input(0, input).next;
                assert!(judge.observe(input, result.is_ok(), &out).is_empty());
            }
            let e = explore_sdk(
                sdk,
                (model, judge),
                &alphabet,
                depth,
                |(_, j)| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    j.key().hash(&mut h);
                    h.finish()
                },
                |(model, judge), _, at, input: &Input, result, out, after| {
                    let want = model.input(at, input);
                    if result != want.result || out != want.out.as_slice() {
                        return Err(format!(
                            "{input:?}: real {result:?} {out:?}, model {:?} {:?}",
                            want.result, want.out
                        ));
                    }
                    let got = sut::sdk_state_with(after.state(), cfg);
                    if got != want.next {
                        return Err(format!(
                            "{input:?}: state differs\n-- real:  {got:?}\n-- model: {:?}",
                            want.next
                        ));
                    }
                    if after.last_rows() != want.rows.as_slice() {
                        return Err(format!(
                            "{input:?}: rows {:?}, model {:?}",
                            after.last_rows(),
                            want.rows
                        ));
                    }
                    *model = want.next;
                    let found = judge.observe(input, result.is_ok(), out);
                    match found.first() {
                        None => Ok(()),
                        Some(f) => Err(f.to_string()),
                    }
                },
            );
            states += e.states;
            edges += e.edges;
            println!(
                "exhaustive SDK ({}, prefix of {}): depth {}, {} states, {} inputs; new states per depth {:?}",
                policy.as_str(),
                prefix.len(),
                e.depth,
                e.states,
                e.edges,
                e.per_depth
            );
        }
    }
    println!(
        "exhaustive SDK: {states} states, {edges} inputs, {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(states > 4);
}
