//! One test (or more) per row of the SDK core's transition table (every SDK `Row`, the
//! `S-…` IDs of spec.md §5; `every_row_has_a_test` keeps the list complete). Each test drives a [`Sdk`] to the row's source state, feeds the
//! row's input and checks everything the row promises: the outputs in order (events with their
//! Glance codes and properties, frames, `Output::Connect`), the resulting state (phase,
//! session, presence, link, armed timers) and, for refusals, the exact error, the queued
//! `EventInvalidState` / `EventInvalidParameter` and a state equal to the one before.
//!
//! Time is the `Instant` we pass in; nothing here reads a clock.

use cobrowse_visitor_core::ErrorCode;
use cobrowse_visitor_core::Row;
use cobrowse_visitor_core::Timer;
use cobrowse_visitor_core::{
    ApiCall, ApiError, ClientFrame, Error, Event, FrameError, InitParams, Input, Instant, KeyType,
    Lifecycle, NetworkChange, Output, ParameterError, ProtocolError, Sdk, SdkConfig, ServerFrame,
    StartKey, TermsStatus, PROTOCOL_VERSION,
};
use cobrowse_visitor_core::{
    AppVisibility, KeyRequest, Link, Lookup, Phase, Presence, Ready, Session, Settings, State,
    Terms,
};
use cobrowse_visitor_core::{ConsentPolicy, Limits, StartOptions, StartParams};
use cobrowse_visitor_core::{PhaseKind, PresenceKind, ServerFrameKind, SessionKind, StateKind};
use cobrowse_visitor_core::{RestoreError, Snapshot, RESTART_EXPIRED};
use std::collections::BTreeMap;

const GROUP: i32 = 19921;
const OTHER_GROUP: i32 = 20393;
const VID: &str = "cust-42";
const KEY: &str = "4821";
const WHY_DISPLAYED: &str = "no terms request is waiting to be displayed";
const WHY_ANSWER: &str = "terms must be displayed first, and each request answered once";

// ---- harness --------------------------------------------------------------------------------

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Polls until `Output::Timeout`; returns everything before it.
fn drain(sdk: &mut Sdk) -> Vec<Output> {
    let mut outs = Vec::new();
    for _ in 0..1000 {
        match sdk.poll_output() {
            Output::Timeout(next) => {
                assert_eq!(
                    next,
                    sdk.state().timers.next(),
                    "Timeout carries the next deadline"
                );
                return outs;
            }
            o => outs.push(o),
        }
    }
    panic!("the output queue never ends");
}

fn ev(e: Event) -> Output {
    Output::Event(e)
}

fn tx(f: ClientFrame) -> Output {
    Output::Transmit(f)
}

fn init_frame(p: &InitParams) -> ClientFrame {
    ClientFrame::Init {
        v: PROTOCOL_VERSION,
        group_id: p.group_id,
        token: p.token.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        visitor_id: p.visitor_id.clone(),
    }
}

fn settings(key_length: u8) -> ServerFrame {
    ServerFrame::Settings {
        v: PROTOCOL_VERSION,
        key_length,
        agent_start: false,
    }
}

fn init(p: InitParams) -> ApiCall {
    ApiCall::InitVisitor(p)
}

fn start(key: StartKey) -> ApiCall {
    ApiCall::start_session(key)
}

fn terms(status: TermsStatus) -> ApiCall {
    ApiCall::terms(status)
}

fn terms_frame(status: &str, request_id: u64) -> ClientFrame {
    let mut map = BTreeMap::new();
    map.insert("status".to_owned(), status.to_owned());
    ClientFrame::PresenceSignal {
        event: "terms".to_owned(),
        map,
        request_id: Some(request_id),
    }
}

fn presence_connect_frame() -> ClientFrame {
    ClientFrame::PresenceConnect {
        visitor_id: VID.to_owned(),
    }
}

/// The property names the tests compare (`Event::properties` returns owned names, as an
/// agent's signal brings its own keys).
const PROPERTY_NAMES: [&str; 11] = [
    "call",
    "error",
    "event",
    "guestcount",
    "keytype",
    "page",
    "reason",
    "request_id",
    "retry_ms",
    "sessionkey",
    "settings",
];

fn props(e: &Event) -> Vec<(&'static str, String)> {
    e.properties()
        .into_iter()
        .map(|(k, v)| {
            let name = PROPERTY_NAMES
                .iter()
                .find(|n| **n == k)
                .unwrap_or_else(|| panic!("property {k} is not in PROPERTY_NAMES"));
            (*name, v)
        })
        .collect()
}

/// The row that refuses `call` with `err`, from spec.md §5.1 and §9.
fn refusal_row(call: &ApiCall, err: &ApiError) -> Row {
    match (call, err) {
        (_, ApiError::Terminated) => Row::SA90,
        (_, ApiError::NotInitialized) => Row::SA91,
        (_, ApiError::InitPending) => Row::SA92,
        (ApiCall::Pause { .. }, ApiError::SessionNotRunning(_)) => Row::SA101,
        (ApiCall::SendUserMessage { .. }, ApiError::InvalidParameter(_)) => Row::SA112,
        (ApiCall::SendUserMessage { .. }, ApiError::SessionNotRunning(_)) => Row::SA111,
        (ApiCall::SetUserState { .. }, ApiError::SessionNotRunning(_)) => Row::SA121,
        (ApiCall::SetUserState { .. }, ApiError::InvalidParameter(_)) => Row::SA122,
        (ApiCall::InitVisitor(_), ApiError::InvalidParameter(_)) => Row::SA06,
        (ApiCall::StartSession(_), ApiError::InvalidParameter(ParameterError::MaxGuests)) => {
            Row::SA27
        }
        (ApiCall::StartSession(_), ApiError::InvalidParameter(_)) => Row::SA25,
        (ApiCall::PresenceSignalAgent { .. }, ApiError::InvalidParameter(_)) => Row::SA57,
        (_, ApiError::GroupIdMismatch { .. }) => Row::SA02,
        (_, ApiError::VisitorIdChangeWithPresence) => Row::SA05,
        (ApiCall::StartSession(_), ApiError::SessionActive(_)) => Row::SA21,
        (ApiCall::EndSession, ApiError::SessionActive(_)) => Row::SA33,
        (_, ApiError::NoSession) => Row::SA32,
        (_, ApiError::ConsentRequired) => Row::SA24,
        (ApiCall::PresenceConnect { .. }, ApiError::InvalidParameter(_)) => Row::SA45,
        (ApiCall::PresenceData { .. }, ApiError::InvalidParameter(_)) => Row::SA81,
        (_, ApiError::NoVisitorId) => Row::SA41,
        (_, ApiError::PresenceNotConfigured) => Row::SA46,
        (_, ApiError::PresenceActive(_)) => Row::SA42,
        (ApiCall::PresenceSignalAgent { .. }, ApiError::PresenceNotConnected) => Row::SA51,
        (ApiCall::PresenceSignalAgent { .. }, ApiError::PresenceSendFail(_)) => Row::SA58,
        (ApiCall::PresenceDisconnect, ApiError::PresenceNotConnected) => Row::SA61,
        (ApiCall::PresenceSignalVisibility { .. }, ApiError::PresenceNotConnected) => Row::SA72,
        (ApiCall::PresenceSignalVisibility { .. }, ApiError::PresenceSendFail(_)) => Row::SA71,
        (
            _,
            ApiError::TermsOutOfOrder {
                status: TermsStatus::Displayed,
                ..
            },
        ) => Row::SA55,
        (_, ApiError::TermsOutOfOrder { .. }) => Row::SA56,
        other => panic!("no row refuses {other:?}"),
    }
}

/// The row that refuses a frame with `err` (spec.md §5.2).
fn frame_refusal_row(err: &ProtocolError) -> Row {
    match err {
        ProtocolError::Frame(_) => Row::SF98,
        ProtocolError::KeyNotNumeric => Row::SF16,
        ProtocolError::KeyMismatch => Row::SF15,
        ProtocolError::UnexpectedFrame { .. } => Row::SF99,
        other => panic!("no row refuses {other:?}"),
    }
}

/// An SDK and the caller's clock.
#[derive(Clone)]
struct H {
    sdk: Sdk,
    now: u64,
}

impl H {
    fn new() -> H {
        H::with(SdkConfig::default())
    }

    fn with(config: SdkConfig) -> H {
        H {
            sdk: Sdk::new(config),
            now: 0,
        }
    }

    fn at(&self) -> Instant {
        t(self.now)
    }

    fn step(&mut self, input: Input) -> (Result<(), Error>, Vec<Output>) {
        let r = self.sdk.handle_input(self.at(), input);
        (r, drain(&mut self.sdk))
    }

    fn ok(&mut self, input: Input) -> Vec<Output> {
        let (r, outs) = self.step(input);
        assert_eq!(r, Ok(()), "input accepted");
        outs
    }

    fn api(&mut self, call: ApiCall) -> Vec<Output> {
        self.ok(Input::Api(call))
    }

    fn recv(&mut self, f: ServerFrame) -> Vec<Output> {
        self.ok(Input::Frame(f))
    }

    fn life(&mut self, l: Lifecycle) -> Vec<Output> {
        self.ok(Input::Lifecycle(l))
    }

    fn net(&mut self, n: NetworkChange) -> Vec<Output> {
        self.ok(Input::Network(n))
    }

    /// Moves the clock `ms` on and fires what is due.
    fn advance(&mut self, ms: u64) -> Vec<Output> {
        self.now += ms;
        self.ok(Input::Timeout)
    }

    fn state(&self) -> &State {
        self.sdk.state()
    }

    /// The rows the last input went through (`Sdk::last_rows`).
    fn rows(&self) -> Vec<Row> {
        self.sdk.last_rows().to_vec()
    }

    #[track_caller]
    fn assert_rows(&self, expected: &[Row]) {
        assert_eq!(self.rows(), expected, "rows of the last input");
    }

    fn ready(&self) -> &Ready {
        match &self.state().phase {
            Phase::Ready(r) => r,
            p => panic!("expected ready, got {}", p.kind()),
        }
    }

    fn session(&self) -> &Session {
        &self.ready().session
    }

    fn presence(&self) -> &Presence {
        &self.ready().presence
    }

    fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.state().timers.deadline(timer)
    }

    fn after(&self, ms: u64) -> Option<Instant> {
        Some(t(self.now + ms))
    }

    /// A refused API call: exactly this error, exactly one queued event, state unchanged.
    #[track_caller]
    fn refuse(&mut self, call: ApiCall, err: ApiError) -> Event {
        let before = self.state().clone();
        let row = refusal_row(&call, &err);
        let (r, outs) = self.step(Input::Api(call));
        assert_eq!(r, Err(Error::Api(err)));
        assert_eq!(self.state(), &before, "a refused call changes nothing");
        self.assert_rows(&[row]);
        match outs.as_slice() {
            [Output::Event(e)] => e.clone(),
            other => panic!("a refused call queues exactly one event, got {other:?}"),
        }
    }

    #[track_caller]
    fn refuse_state(&mut self, call: ApiCall, err: ApiError, code: ErrorCode) {
        let name = call.name();
        let e = self.refuse(call, err);
        assert_eq!(e.code(), "EventInvalidState");
        assert_eq!(e, Event::InvalidState { call: name, code });
        assert_eq!(
            props(&e),
            vec![
                ("call", name.as_str().to_owned()),
                ("error", code.as_str().to_owned())
            ]
        );
    }

    /// A presence message refused because presence is wanted but not connected (S-A58,
    /// S-A71): `EventPresenceSendFail` naming the call, not `EventInvalidState`.
    #[track_caller]
    fn refuse_send_fail(&mut self, call: ApiCall) {
        let name = call.name();
        let kind = self.presence().kind();
        let e = self.refuse(call, ApiError::PresenceSendFail(kind));
        assert_eq!(e.code(), "EventPresenceSendFail");
        assert_eq!(
            e,
            Event::PresenceSendFail {
                call: name,
                code: ErrorCode::PresenceSendFail
            }
        );
        assert_eq!(
            props(&e),
            vec![
                ("call", name.as_str().to_owned()),
                ("error", "presence_send_fail".to_owned())
            ]
        );
    }

    #[track_caller]
    fn refuse_param(&mut self, call: ApiCall, err: ApiError, code: ErrorCode) {
        let name = call.name();
        let e = self.refuse(call, err);
        assert_eq!(e.code(), "EventInvalidParameter");
        assert_eq!(e, Event::InvalidParameter { call: name, code });
    }

    /// A refused server frame: exactly this error, no output, state unchanged.
    #[track_caller]
    fn refuse_frame(&mut self, f: ServerFrame, err: ProtocolError) {
        let before = self.state().clone();
        let row = frame_refusal_row(&err);
        let (r, outs) = self.step(Input::Frame(f));
        assert_eq!(r, Err(Error::Protocol(err)));
        self.assert_rows(&[row]);
        assert_eq!(outs, vec![]);
        assert_eq!(self.state(), &before, "a refused frame changes nothing");
    }

    // ---- source states ----

    /// `init_visitor` at 0 ms, settings (key length 4) at 100 ms.
    fn initialized_with(p: InitParams) -> H {
        let mut h = H::new();
        h.api(init(p));
        h.now = 100;
        h.recv(settings(4));
        h
    }

    fn ready_anonymous() -> H {
        H::initialized_with(InitParams::anonymous(GROUP))
    }

    /// The `init` frame a restored link starts with (S-N02): the latest visitor parameters.
    fn reinit(&self) -> Output {
        match &self.sdk.state().phase {
            Phase::Initializing { visitor } => tx(init_frame(visitor)),
            Phase::Ready(r) => tx(init_frame(&r.visitor)),
            p => panic!("no init on restore in {}", p.kind()),
        }
    }

    fn identified() -> H {
        H::initialized_with(InitParams::identified(GROUP, VID))
    }

    /// A core configured with `policy`, identified, whose settings say `agent_start`, with
    /// presence connected.
    fn connected_under(policy: ConsentPolicy, agent_start: bool) -> H {
        let mut h = H::with(SdkConfig {
            consent_policy: policy,
            ..SdkConfig::default()
        });
        h.api(init(InitParams::identified(GROUP, VID)));
        h.now = 100;
        h.recv(ServerFrame::Settings {
            v: PROTOCOL_VERSION,
            key_length: 4,
            agent_start,
        });
        h.now += 10;
        h.api(ApiCall::presence_connect());
        h.now += 10;
        h.recv(ServerFrame::PresenceConnected {});
        h
    }

    /// Presence not configured for the group (S-F27).
    fn not_configured() -> H {
        let mut h = H::presence_connecting();
        h.now += 10;
        h.recv(ServerFrame::PresenceNotConfigured {});
        h
    }

    /// Every state where presence is wanted but not connected (§4.1): connecting,
    /// retry_wait, awaiting_link, blurred, suspended.
    fn presence_wanted_not_connected() -> Vec<H> {
        let retry_wait = {
            let mut h = H::presence_connecting();
            h.recv(ServerFrame::PresenceConnectFailed {
                reason: "busy".into(),
            });
            h
        };
        let awaiting_link = {
            let mut h = H::terms_displayed(3);
            h.net(NetworkChange::Lost);
            h
        };
        let blurred = {
            let mut h = H::presence_connected();
            h.recv(ServerFrame::PresenceBlur {});
            h
        };
        let suspended = {
            let mut h = H::presence_connected();
            h.life(Lifecycle::Background);
            h.advance(60_000);
            h
        };
        let all = vec![
            H::presence_connecting(),
            retry_wait,
            awaiting_link,
            blurred,
            suspended,
        ];
        let kinds: Vec<PresenceKind> = all.iter().map(|h| h.presence().kind()).collect();
        assert_eq!(
            kinds,
            [
                PresenceKind::Connecting,
                PresenceKind::RetryWait,
                PresenceKind::AwaitingLink,
                PresenceKind::Blurred,
                PresenceKind::Suspended
            ]
        );
        all
    }

    fn presence_connecting() -> H {
        let mut h = H::identified();
        h.now += 10;
        h.api(ApiCall::presence_connect());
        h
    }

    fn presence_connected() -> H {
        let mut h = H::presence_connecting();
        h.now += 10;
        h.recv(ServerFrame::PresenceConnected {});
        h
    }

    fn terms_shown(request_id: u64) -> H {
        let mut h = H::presence_connected();
        h.now += 10;
        h.recv(ServerFrame::PresenceShowTerms { request_id });
        h
    }

    fn terms_displayed(request_id: u64) -> H {
        let mut h = H::terms_shown(request_id);
        h.api(terms(TermsStatus::Displayed));
        h
    }

    fn terms_accepted(request_id: u64) -> H {
        let mut h = H::terms_displayed(request_id);
        h.api(terms(TermsStatus::Accepted));
        h
    }

    fn starting_random() -> H {
        let mut h = H::ready_anonymous();
        h.now += 10;
        h.api(start(StartKey::Random));
        h
    }

    fn running_random() -> H {
        let mut h = H::starting_random();
        h.now += 10;
        h.recv(ServerFrame::SessionStarted {
            sessionkey: KEY.into(),
        });
        h
    }

    fn ending_random() -> H {
        let mut h = H::running_random();
        h.now += 10;
        h.api(ApiCall::EndSession);
        h
    }

    /// Logged in, presence connected, and a manual (random key) session running.
    fn running_with_presence() -> H {
        let mut h = H::presence_connected();
        h.now += 10;
        h.api(start(StartKey::Random));
        h.recv(ServerFrame::SessionStarted {
            sessionkey: KEY.into(),
        });
        h
    }

    fn running_random_key(&self) -> Session {
        Session::Running {
            key: KEY.into(),
            keytype: KeyType::Random,
            guests: 0,
            paused: false,
            user_state: BTreeMap::new(),
            persist: true,
        }
    }
}

// ---- S-A: API calls -------------------------------------------------------------------------

/// S-A01: the first `init_visitor` sends `init` and waits for the settings lookup.
#[test]
fn s_a01_first_init_sends_init_and_arms_the_lookup() {
    let mut h = H::new();
    let p = InitParams::anonymous(GROUP);
    let outs = h.api(init(p.clone()));
    h.assert_rows(&[Row::SA01]);
    assert_eq!(
        outs,
        vec![tx(ClientFrame::Init {
            v: 1,
            group_id: GROUP,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: None,
        })]
    );
    assert_eq!(h.state().phase, Phase::Initializing { visitor: p });
    assert_eq!(h.deadline(Timer::InitLookup), Some(t(10_000)));
    assert_eq!(h.state().timers.armed().count(), 1);
    assert_eq!(h.sdk.poll_output(), Output::Timeout(Some(t(10_000))));
}

/// S-A06: every field is checked (§3.3); a bad one is `EventInvalidParameter` and nothing
/// changes, before the first init and after it.
#[test]
fn s_a06_init_fields_are_validated() {
    let bad = |f: &dyn Fn(&mut InitParams)| {
        let mut p = InitParams::identified(GROUP, VID);
        f(&mut p);
        p
    };
    let cases: Vec<(InitParams, ParameterError)> = vec![
        (InitParams::anonymous(0), ParameterError::GroupId),
        (InitParams::anonymous(-1), ParameterError::GroupId),
        (
            InitParams::identified(i32::MIN, VID),
            ParameterError::GroupId,
        ),
        (
            bad(&|p| p.visitor_id = Some(String::new())),
            ParameterError::VisitorId {
                limits: Limits::Glance5,
            },
        ),
        (
            bad(&|p| p.visitor_id = Some("a".repeat(63))),
            ParameterError::VisitorId {
                limits: Limits::Glance5,
            },
        ),
        (
            bad(&|p| p.visitor_id = Some("cust 42".into())),
            ParameterError::VisitorId {
                limits: Limits::Glance5,
            },
        ),
        (
            bad(&|p| p.visitor_id = Some("cust.42".into())),
            ParameterError::VisitorId {
                limits: Limits::Glance5,
            },
        ),
        (
            bad(&|p| p.visitor_id = Some("cüst".into())),
            ParameterError::VisitorId {
                limits: Limits::Glance5,
            },
        ),
        (bad(&|p| p.name = "n".repeat(64)), ParameterError::Name),
        (bad(&|p| p.email = "e".repeat(128)), ParameterError::Email),
        (bad(&|p| p.phone = "1".repeat(32)), ParameterError::Phone),
        (bad(&|p| p.token = "k".repeat(1025)), ParameterError::Token),
    ];
    for (p, err) in cases {
        let mut pending = H::new();
        pending.api(init(InitParams::anonymous(GROUP)));
        for mut h in [H::new(), pending, H::running_with_presence()] {
            h.refuse_param(
                init(p.clone()),
                ApiError::InvalidParameter(err),
                ErrorCode::InvalidParameter,
            );
        }
    }
    // a bad field is reported as such even with another group id (S-A06 before S-A02)
    let mut h = H::ready_anonymous();
    let mut p = InitParams::anonymous(OTHER_GROUP);
    p.phone = "1".repeat(32);
    h.refuse_param(
        init(p),
        ApiError::InvalidParameter(ParameterError::Phone),
        ErrorCode::InvalidParameter,
    );
    // the limits themselves are fine (lengths in characters)
    let mut p = InitParams::identified(GROUP, format!("{}-_~", "a".repeat(59)));
    p.name = "é".repeat(63);
    p.email = "e".repeat(127);
    p.phone = "1".repeat(31);
    p.token = "k".repeat(1024);
    let mut h = H::new();
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA01]);
}

/// S-A06: the group id is an `Int32` (the seed's `initVisitor(groupId: Int32, …)`) and must
/// be positive: -1 and `i32::MIN` are refused as `invalid_parameter` with
/// `EventInvalidParameter`, in every phase but terminated, and the state is exactly as it was
/// (no frame, no timer, the first group id and the visitor kept); 1 and `i32::MAX` are valid.
#[test]
fn s_a06_a_negative_group_id_is_refused_and_changes_nothing() {
    for group in [-1, i32::MIN] {
        let mut pending = H::new();
        pending.api(init(InitParams::anonymous(GROUP)));
        for mut h in [
            H::new(),
            pending,
            H::ready_anonymous(),
            H::running_with_presence(),
        ] {
            for p in [
                InitParams::anonymous(group),
                InitParams::identified(group, VID),
            ] {
                h.refuse_param(
                    init(p),
                    ApiError::InvalidParameter(ParameterError::GroupId),
                    ErrorCode::InvalidParameter,
                );
                h.assert_rows(&[Row::SA06]);
            }
        }
        let e = ApiError::InvalidParameter(ParameterError::GroupId);
        assert_eq!(
            e.to_string(),
            "invalid parameter: group id must be positive (1..=2147483647)"
        );
    }
    // after the refusals, a valid first init is the first one (S-A01)
    let mut h = H::new();
    let _ = h.refuse(
        init(InitParams::anonymous(-1)),
        ApiError::InvalidParameter(ParameterError::GroupId),
    );
    h.api(init(InitParams::anonymous(GROUP)));
    h.assert_rows(&[Row::SA01]);
    for edge in [1, i32::MAX] {
        let mut h = H::new();
        let p = InitParams::anonymous(edge);
        assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
        h.assert_rows(&[Row::SA01]);
    }
}

/// S-A02: the group id is fixed by the first `init_visitor`, pending or completed.
#[test]
fn s_a02_second_group_id_is_refused_and_changes_nothing() {
    let mismatch = ApiError::GroupIdMismatch {
        expected: GROUP,
        got: OTHER_GROUP,
    };
    // while the first init is pending
    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    h.refuse_param(
        init(InitParams::anonymous(OTHER_GROUP)),
        mismatch.clone(),
        ErrorCode::GroupIdMismatch,
    );
    // once ready, with a session running and presence connected (S-A02 before S-A05)
    let mut h = H::running_with_presence();
    for p in [
        InitParams::identified(OTHER_GROUP, VID),
        InitParams::anonymous(OTHER_GROUP),
    ] {
        h.refuse_param(init(p), mismatch.clone(), ErrorCode::GroupIdMismatch);
    }
    // the first group id is still accepted
    let p = InitParams::identified(GROUP, VID);
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA04]);
}

/// S-A03: init again before the first completed: the latest parameters win.
#[test]
fn s_a03_init_while_initializing_replaces_the_parameters() {
    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    h.now = 3_000;
    let p = InitParams::identified(GROUP, VID);
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA03]);
    assert_eq!(h.state().phase, Phase::Initializing { visitor: p.clone() });
    assert_eq!(h.deadline(Timer::InitLookup), Some(t(13_000)));
    h.now = 3_050;
    assert_eq!(
        h.recv(settings(6)),
        vec![ev(Event::VisitorInitialized {
            settings_loaded: true
        })]
    );
    assert_eq!(h.ready().visitor, p);
    assert_eq!(h.deadline(Timer::InitLookup), None);
}

/// S-A04: re-init with the visitor id keeps the running session, presence and settings
/// until the lookup answers.
#[test]
fn s_a04_reinit_keeps_session_and_presence() {
    let mut h = H::running_with_presence();
    let before = h.ready().clone();
    h.now += 1_000;
    let mut p = InitParams::identified(GROUP, VID);
    p.name = "Ann".into();
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA04]);
    let r = h.ready();
    assert_eq!(r.visitor, p);
    assert_eq!(r.lookup, Lookup::Pending);
    assert_eq!(r.session, before.session);
    assert_eq!(r.presence, before.presence);
    assert_eq!(r.settings, before.settings);
    assert_eq!(h.deadline(Timer::InitLookup), h.after(10_000));
    // the lookup answers: EventVisitorInitialized again, still the same session and presence
    h.now += 20;
    assert_eq!(
        h.recv(settings(6)),
        vec![ev(Event::VisitorInitialized {
            settings_loaded: true
        })]
    );
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
}

/// S-A04: logging in (re-init with a visitor id) during an anonymous session keeps it.
#[test]
fn s_a04_login_during_an_anonymous_session_keeps_it_running() {
    let mut h = H::running_random();
    let p = InitParams::identified(GROUP, VID);
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA04]);
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.ready().visitor.visitor_id.as_deref(), Some(VID));
    h.recv(settings(4));
    // presence now possible
    assert_eq!(
        h.api(ApiCall::presence_connect()),
        vec![tx(presence_connect_frame())]
    );
    assert_eq!(h.session(), &h.running_random_key());
}

/// S-A05: the visitor id cannot change while presence is on.
#[test]
fn s_a05_visitor_id_change_with_presence_is_refused() {
    for mut h in [H::presence_connecting(), H::presence_connected()] {
        h.refuse_state(
            init(InitParams::anonymous(GROUP)),
            ApiError::VisitorIdChangeWithPresence,
            ErrorCode::VisitorIdChangeWithPresence,
        );
        h.refuse_state(
            init(InitParams::identified(GROUP, "someone-else")),
            ApiError::VisitorIdChangeWithPresence,
            ErrorCode::VisitorIdChangeWithPresence,
        );
    }
    // suspended presence is still on
    let mut h = H::presence_connected();
    h.life(Lifecycle::Background);
    h.advance(60_000);
    assert_eq!(h.presence(), &Presence::Suspended);
    h.refuse_state(
        init(InitParams::anonymous(GROUP)),
        ApiError::VisitorIdChangeWithPresence,
        ErrorCode::VisitorIdChangeWithPresence,
    );
    // after presence_disconnect it is allowed
    h.api(ApiCall::PresenceDisconnect);
    let p = InitParams::anonymous(GROUP);
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA04]);
}

/// S-A90: after terminate every call is refused with `terminated`, even a malformed one.
#[test]
fn s_a90_every_call_after_terminate_is_refused() {
    for mut h in [H::new(), H::running_with_presence()] {
        h.life(Lifecycle::Terminate);
        let mut bad_init = InitParams::anonymous(0);
        bad_init.name = "n".repeat(64);
        for call in [
            init(InitParams::anonymous(GROUP)),
            init(bad_init),
            ApiCall::SetDefaultUi { enabled: false },
            ApiCall::PresenceSetDefaultUi { enabled: false },
            start(StartKey::Random),
            start(StartKey::Custom("a b".into())),
            ApiCall::EndSession,
            ApiCall::presence_connect(),
            terms(TermsStatus::Displayed),
            ApiCall::PresenceSignalAgent {
                event: String::new(),
                map: BTreeMap::new(),
            },
            ApiCall::PresenceDisconnect,
        ] {
            h.refuse_state(call, ApiError::Terminated, ErrorCode::Terminated);
        }
    }
}

/// S-A91: before the first `init_visitor` every other call is `not_initialized` (S-A91 comes
/// before the parameter rows S-A25 and S-A57).
#[test]
fn s_a91_calls_before_init_are_not_initialized() {
    let mut h = H::new();
    for call in [
        ApiCall::SetDefaultUi { enabled: false },
        ApiCall::PresenceSetDefaultUi { enabled: false },
        start(StartKey::Random),
        start(StartKey::VisitorId),
        start(StartKey::Custom("a b".into())),
        ApiCall::EndSession,
        ApiCall::presence_connect(),
        terms(TermsStatus::Displayed),
        ApiCall::PresenceSignalAgent {
            event: String::new(),
            map: BTreeMap::new(),
        },
        ApiCall::PresenceDisconnect,
    ] {
        h.refuse_state(call, ApiError::NotInitialized, ErrorCode::NotInitialized);
    }
    assert_eq!(h.state().phase, Phase::Uninitialized);
}

/// S-A92: while the first init is pending, sessions and presence are `init_pending`; the UI
/// flags are not (S-A10, S-A11).
#[test]
fn s_a92_calls_while_initializing_are_init_pending() {
    let mut h = H::new();
    h.api(init(InitParams::identified(GROUP, VID)));
    for call in [
        start(StartKey::Random),
        start(StartKey::VisitorId),
        start(StartKey::Custom("a b".into())),
        ApiCall::EndSession,
        ApiCall::presence_connect(),
        terms(TermsStatus::Accepted),
        ApiCall::PresenceSignalAgent {
            event: String::new(),
            map: BTreeMap::new(),
        },
        ApiCall::PresenceDisconnect,
    ] {
        h.refuse_state(call, ApiError::InitPending, ErrorCode::InitPending);
    }
    assert_eq!(h.api(ApiCall::SetDefaultUi { enabled: false }), vec![]);
    h.assert_rows(&[Row::SA10]);
    assert_eq!(
        h.api(ApiCall::PresenceSetDefaultUi { enabled: false }),
        vec![]
    );
    h.assert_rows(&[Row::SA11]);
}

/// S-A10: `set_default_ui` records the flag; nothing else.
#[test]
fn s_a10_set_default_ui() {
    let mut h = H::new();
    assert!(h.state().default_ui);
    h.api(init(InitParams::anonymous(GROUP)));
    assert_eq!(h.api(ApiCall::SetDefaultUi { enabled: false }), vec![]);
    h.assert_rows(&[Row::SA10]);
    assert!(!h.state().default_ui);
    assert!(h.state().presence_default_ui);
    h.recv(settings(4));
    let before = h.state().clone();
    assert_eq!(h.api(ApiCall::SetDefaultUi { enabled: true }), vec![]);
    h.assert_rows(&[Row::SA10]);
    assert_eq!(
        h.state(),
        &State {
            default_ui: true,
            ..before
        }
    );
}

/// S-A11: `presence_set_default_ui` records the flag; nothing else, presence or not.
#[test]
fn s_a11_presence_set_default_ui() {
    let mut h = H::presence_connected();
    let before = h.state().clone();
    assert_eq!(
        h.api(ApiCall::PresenceSetDefaultUi { enabled: false }),
        vec![]
    );
    h.assert_rows(&[Row::SA11]);
    assert_eq!(
        h.state(),
        &State {
            presence_default_ui: false,
            ..before
        }
    );
    let mut h = H::ready_anonymous();
    assert_eq!(
        h.api(ApiCall::PresenceSetDefaultUi { enabled: false }),
        vec![]
    );
    assert!(!h.state().presence_default_ui);
    assert!(h.state().default_ui);
}

/// S-A20: `start_session(GLANCE_KEYTYPE_RANDOM)` asks for a random key (`key: null`).
#[test]
fn s_a20_random_key_start() {
    let mut h = H::ready_anonymous();
    h.now = 500;
    assert_eq!(
        h.api(start(StartKey::Random)),
        vec![tx(ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA20]);
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::Random,
            options: StartOptions::default()
        }
    );
    assert_eq!(h.deadline(Timer::SessionStart), Some(t(15_500)));
    // logged in and connected to presence, a manual start still asks for a random key and
    // leaves the terms alone
    let mut h = H::terms_displayed(4);
    assert_eq!(
        h.api(start(StartKey::Random)),
        vec![tx(ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA20]);
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::Random,
            options: StartOptions::default()
        }
    );
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Displayed { request_id: 4 }
        }
    );
}

/// S-A20: a custom key is sent as is; the session comes up with it.
#[test]
fn s_a20_custom_key_start() {
    let mut h = H::ready_anonymous();
    let k = "my-Key_09";
    assert_eq!(
        h.api(start(StartKey::Custom(k.into()))),
        vec![tx(ClientFrame::StartSession {
            key: Some(k.into()),
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA20]);
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::Custom(k.into()),
            options: StartOptions::default()
        }
    );
    let outs = h.recv(ServerFrame::SessionStarted {
        sessionkey: k.into(),
    });
    let e = Event::ConnectedToSession {
        sessionkey: k.into(),
        keytype: KeyType::Custom,
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(
        props(&e),
        vec![
            ("keytype", "custom".to_owned()),
            ("sessionkey", k.to_owned())
        ]
    );
}

/// S-A25: a custom key is 1–63 base64url characters; anything else is
/// `EventInvalidParameter` and nothing changes.
#[test]
fn s_a25_custom_key_must_be_base64url_up_to_63() {
    for mut h in [H::ready_anonymous(), H::terms_accepted(1)] {
        for bad in [
            String::new(),
            "k".repeat(64),
            "a~b".into(),
            "a b".into(),
            "a+b".into(),
            "a/b".into(),
            "ab==".into(),
            "clé".into(),
        ] {
            h.refuse_param(
                start(StartKey::Custom(bad)),
                ApiError::InvalidParameter(ParameterError::SessionKey),
                ErrorCode::InvalidParameter,
            );
        }
    }
    let mut h = H::ready_anonymous();
    let longest = "k".repeat(63);
    assert_eq!(
        h.api(start(StartKey::Custom(longest.clone()))),
        vec![tx(ClientFrame::StartSession {
            key: Some(longest),
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA20]);
}

/// S-A27: `max_guests` outside 1..=32767 (`GlanceStartParams.maxGuests` is a `short`) is
/// `EventInvalidParameter`, whatever the key; the bounds are accepted and sent (S-A20).
#[test]
fn s_a27_start_options_must_follow_the_rules() {
    for mut h in [H::ready_anonymous(), H::terms_accepted(1)] {
        for bad in [0, -1, 32_768, i32::MIN, i32::MAX] {
            for key in [StartKey::Random, StartKey::Custom("k1".into())] {
                h.refuse_param(
                    ApiCall::StartSession(StartParams {
                        key,
                        options: StartOptions {
                            max_guests: Some(bad),
                            ..StartOptions::default()
                        },
                    }),
                    ApiError::InvalidParameter(ParameterError::MaxGuests),
                    ErrorCode::InvalidParameter,
                );
            }
        }
    }
    for good in [1u16, 32_767] {
        let mut h = H::ready_anonymous();
        assert_eq!(
            h.api(ApiCall::StartSession(StartParams {
                key: StartKey::Random,
                options: StartOptions {
                    max_guests: Some(i32::from(good)),
                    paused: true,
                    persist: false,
                },
            })),
            vec![tx(ClientFrame::StartSession {
                key: None,
                max_guests: Some(good),
                paused: true
            })]
        );
        h.assert_rows(&[Row::SA20]);
    }
}

/// S-A21: start while a session is starting, running or ending is `EventInvalidState`
/// (before the key is looked at).
#[test]
fn s_a21_start_while_a_session_is_active_is_invalid_state() {
    for (mut h, name) in [
        (H::starting_random(), SessionKind::Starting),
        (H::running_random(), SessionKind::Running),
        (H::ending_random(), SessionKind::Ending),
    ] {
        for key in [
            StartKey::Random,
            StartKey::VisitorId,
            StartKey::Custom("abc".into()),
            StartKey::Custom("not a key".into()),
        ] {
            h.refuse_state(
                start(key),
                ApiError::SessionActive(name),
                ErrorCode::SessionActive,
            );
        }
    }
    // also for the one-click form while a one-click session starts
    let mut h = H::terms_accepted(7);
    h.api(start(StartKey::VisitorId));
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::SessionActive(SessionKind::Starting),
        ErrorCode::SessionActive,
    );
    // the start of any session voids an accepted consent (S-A20; the contract's INV-CONSENT:
    // consent is for one session), so after a manual session the one-click start is refused
    let mut h = H::terms_accepted(7);
    h.api(start(StartKey::Random));
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::SessionActive(SessionKind::Starting),
        ErrorCode::SessionActive,
    );
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    // and once that session is over, still refused: consent must be given again
    h.now += 10;
    h.recv(ServerFrame::SessionRefused {
        reason: "busy".into(),
    });
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::ConsentRequired,
        ErrorCode::ConsentRequired,
    );
}

/// S-A22: `start_session()` without a visitor id asks for a random key.
#[test]
fn s_a22_no_argument_without_visitor_id_is_a_random_key() {
    let mut h = H::ready_anonymous();
    assert_eq!(
        h.api(start(StartKey::VisitorId)),
        vec![tx(ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA22, Row::SA20]);
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::Random,
            options: StartOptions::default()
        }
    );
    assert_eq!(h.deadline(Timer::SessionStart), h.after(15_000));
    assert_eq!(
        h.recv(ServerFrame::SessionStarted {
            sessionkey: "123456".into()
        }),
        vec![ev(Event::ConnectedToSession {
            sessionkey: "123456".into(),
            keytype: KeyType::Random
        })]
    );
}

/// S-A23: `start_session()` with a visitor id after `accepted`: the visitor id is the key,
/// and the consent is used up.
#[test]
fn s_a23_one_click_start_after_accepted_uses_the_visitor_id() {
    let mut h = H::terms_accepted(7);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Accepted { request_id: 7 }
        }
    );
    h.now += 10;
    assert_eq!(
        h.api(start(StartKey::VisitorId)),
        vec![tx(ClientFrame::StartSession {
            key: Some(VID.into()),
            max_guests: None,
            paused: false
        })]
    );
    h.assert_rows(&[Row::SA23, Row::SA20]);
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::VisitorId(VID.into()),
            options: StartOptions::default()
        }
    );
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    assert_eq!(h.deadline(Timer::SessionStart), h.after(15_000));
    let e = Event::ConnectedToSession {
        sessionkey: VID.into(),
        keytype: KeyType::VisitorId,
    };
    assert_eq!(
        h.recv(ServerFrame::SessionStarted {
            sessionkey: VID.into()
        }),
        vec![ev(e.clone())]
    );
    assert_eq!(props(&e)[0], ("keytype", "visitor_id".to_owned()));
    // the consent was for one session only
    h.recv(ServerFrame::SessionEnded {
        reason: "agent_ended".into(),
    });
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::ConsentRequired,
        ErrorCode::ConsentRequired,
    );
}

/// S-A24: `start_session()` with a visitor id needs accepted terms for the pending request.
#[test]
fn s_a24_one_click_start_without_consent_is_invalid_state() {
    let declined = {
        let mut h = H::terms_displayed(7);
        h.api(terms(TermsStatus::Declined));
        h
    };
    let blurred = {
        let mut h = H::presence_connected();
        h.recv(ServerFrame::PresenceBlur {});
        h
    };
    let replaced = {
        let mut h = H::terms_accepted(7);
        h.recv(ServerFrame::PresenceShowTerms { request_id: 8 });
        h
    };
    let link_down = {
        let mut h = H::terms_accepted(7);
        h.net(NetworkChange::Lost);
        h
    };
    for mut h in [
        H::identified(),
        H::presence_connecting(),
        H::presence_connected(),
        H::terms_shown(7),
        H::terms_displayed(7),
        declined,
        blurred,
        replaced,
        link_down,
    ] {
        h.refuse_state(
            start(StartKey::VisitorId),
            ApiError::ConsentRequired,
            ErrorCode::ConsentRequired,
        );
    }
}

/// S-A30: `end_session` while running: two-phase end, no event until the server confirms.
#[test]
fn s_a30_end_while_running_waits_for_the_server() {
    let mut h = H::running_random();
    h.now += 100;
    assert_eq!(
        h.api(ApiCall::EndSession),
        vec![tx(ClientFrame::EndSession {})]
    );
    h.assert_rows(&[Row::SA30]);
    assert_eq!(
        h.session(),
        &Session::Ending {
            keytype: KeyType::Random
        }
    );
    assert_eq!(h.deadline(Timer::SessionEnd), h.after(5_000));
    // the confirmation ends it
    assert_eq!(
        h.recv(ServerFrame::SessionEnded {
            reason: "visitor_ended".into()
        }),
        vec![ev(Event::SessionEnded {
            reason: "visitor_ended".into()
        })]
    );
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionEnd), None);
}

/// S-A31: `end_session` while starting abandons the start.
#[test]
fn s_a31_end_while_starting_abandons_it() {
    let mut h = H::starting_random();
    assert!(h.deadline(Timer::SessionStart).is_some());
    h.now += 100;
    assert_eq!(
        h.api(ApiCall::EndSession),
        vec![tx(ClientFrame::EndSession {})]
    );
    h.assert_rows(&[Row::SA31]);
    assert_eq!(
        h.session(),
        &Session::Ending {
            keytype: KeyType::Random
        }
    );
    assert_eq!(h.deadline(Timer::SessionStart), None);
    assert_eq!(h.deadline(Timer::SessionEnd), h.after(5_000));
    // a late session_started is no longer expected
    h.refuse_frame(
        ServerFrame::SessionStarted {
            sessionkey: KEY.into(),
        },
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::SessionStarted,
            state: StateKind::Session(SessionKind::Ending),
        },
    );
    // a one-click start remembers its key type
    let mut h = H::terms_accepted(3);
    h.api(start(StartKey::VisitorId));
    h.api(ApiCall::EndSession);
    assert_eq!(
        h.session(),
        &Session::Ending {
            keytype: KeyType::VisitorId
        }
    );
}

/// S-A32: `end_session` with no session is `EventInvalidState`.
#[test]
fn s_a32_end_without_session_is_invalid_state() {
    for mut h in [H::ready_anonymous(), H::presence_connected()] {
        h.refuse_state(
            ApiCall::EndSession,
            ApiError::NoSession,
            ErrorCode::NoSession,
        );
    }
}

/// S-A33: `end_session` while already ending is `EventInvalidState`.
#[test]
fn s_a33_end_while_ending_is_invalid_state() {
    let mut h = H::ending_random();
    h.refuse_state(
        ApiCall::EndSession,
        ApiError::SessionActive(SessionKind::Ending),
        ErrorCode::SessionActive,
    );
}

/// S-A40: `presence_connect` with a visitor id sends the connect and waits for the answer.
#[test]
fn s_a40_presence_connect_with_visitor_id() {
    let mut h = H::identified();
    h.now = 1_000;
    assert_eq!(
        h.api(ApiCall::presence_connect()),
        vec![tx(presence_connect_frame())]
    );
    h.assert_rows(&[Row::SA40]);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceConnect), Some(t(11_000)));
}

/// S-A43: with the link down presence waits for it; no frame is sent.
#[test]
fn s_a43_presence_connect_with_link_down_waits_for_the_link() {
    let mut h = H::identified();
    h.net(NetworkChange::Lost);
    assert_eq!(h.api(ApiCall::presence_connect()), vec![]);
    h.assert_rows(&[Row::SA43]);
    assert_eq!(h.presence(), &Presence::AwaitingLink);
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    h.now += 3_000;
    assert_eq!(
        h.net(NetworkChange::Restored),
        // the reconnect deadline passed at 1 s: it fires first (spec.md §2)
        vec![
            Output::Connect,
            ev(Event::ClearWarning),
            h.reinit(),
            tx(presence_connect_frame())
        ]
    );
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceConnect), h.after(10_000));
}

/// S-A41: presence only with a visitor id.
#[test]
fn s_a41_presence_connect_without_visitor_id_is_invalid_state() {
    let mut h = H::ready_anonymous();
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::NoVisitorId,
        ErrorCode::NoVisitorId,
    );
    let mut h = H::running_random();
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::NoVisitorId,
        ErrorCode::NoVisitorId,
    );
    // after logout (re-init without the visitor id)
    let mut h = H::presence_connected();
    h.api(ApiCall::PresenceDisconnect);
    h.api(init(InitParams::anonymous(GROUP)));
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::NoVisitorId,
        ErrorCode::NoVisitorId,
    );
}

/// S-A42: `presence_connect` while presence is on is `EventInvalidState`.
#[test]
fn s_a42_presence_connect_twice_is_invalid_state() {
    let mut h = H::presence_connecting();
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::PresenceActive(PresenceKind::Connecting),
        ErrorCode::PresenceActive,
    );
    let mut h = H::presence_connected();
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::PresenceActive(PresenceKind::Connected),
        ErrorCode::PresenceActive,
    );
    h.recv(ServerFrame::PresenceBlur {});
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::PresenceActive(PresenceKind::Blurred),
        ErrorCode::PresenceActive,
    );
    let mut h = H::presence_connected();
    h.net(NetworkChange::Lost);
    h.refuse_state(
        ApiCall::presence_connect(),
        ApiError::PresenceActive(PresenceKind::AwaitingLink),
        ErrorCode::PresenceActive,
    );
}

/// S-A50: a signal other than `terms` passes through and leaves the terms alone.
#[test]
fn s_a50_other_signals_pass_through() {
    let mut h = H::terms_shown(5);
    let mut map = BTreeMap::new();
    map.insert("page".to_owned(), "checkout".to_owned());
    assert_eq!(
        h.api(ApiCall::PresenceSignalAgent {
            event: "visitor_page".into(),
            map: map.clone(),
        }),
        vec![tx(ClientFrame::PresenceSignal {
            event: "visitor_page".into(),
            map,
            request_id: None,
        })]
    );
    h.assert_rows(&[Row::SA50]);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Shown { request_id: 5 }
        }
    );
}

/// S-A57: a malformed signal is `EventInvalidParameter`, whatever presence is doing (S-A57
/// comes before S-A51).
#[test]
fn s_a57_malformed_signals_are_invalid_parameter() {
    let mut big = BTreeMap::new();
    for i in 0..17 {
        big.insert(format!("k{i}"), "v".to_owned());
    }
    let mut long_value = BTreeMap::new();
    long_value.insert("k".to_owned(), "v".repeat(256));
    let mut bad_status = BTreeMap::new();
    bad_status.insert("status".to_owned(), "maybe".to_owned());
    for mut h in [H::terms_shown(5), H::ready_anonymous()] {
        for (event, map, err) in [
            (String::new(), BTreeMap::new(), ParameterError::SignalEvent),
            (
                "e".repeat(256),
                BTreeMap::new(),
                ParameterError::SignalEvent,
            ),
            ("x".into(), big.clone(), ParameterError::SignalMap),
            ("x".into(), long_value.clone(), ParameterError::SignalMap),
            ("terms".into(), BTreeMap::new(), ParameterError::TermsStatus),
            (
                "terms".into(),
                bad_status.clone(),
                ParameterError::TermsStatus,
            ),
        ] {
            h.refuse_param(
                ApiCall::PresenceSignalAgent { event, map },
                ApiError::InvalidParameter(err),
                ErrorCode::InvalidParameter,
            );
        }
    }
}

/// S-A51: signals need presence: with presence off (never connected, disconnected by the
/// app) or not configured, a signal is the app's misuse (`EventInvalidState`). While
/// presence is wanted but not connected, it is S-A58's send failure.
#[test]
fn s_a51_signal_without_connected_presence_is_invalid_state() {
    let disconnected = {
        let mut h = H::presence_connected();
        h.api(ApiCall::PresenceDisconnect);
        h
    };
    for mut h in [H::identified(), disconnected, H::not_configured()] {
        h.refuse_state(
            terms(TermsStatus::Displayed),
            ApiError::PresenceNotConnected,
            ErrorCode::PresenceNotConnected,
        );
        h.refuse_state(
            terms(TermsStatus::Accepted),
            ApiError::PresenceNotConnected,
            ErrorCode::PresenceNotConnected,
        );
        h.refuse_state(
            ApiCall::PresenceSignalAgent {
                event: "ping".into(),
                map: BTreeMap::new(),
            },
            ApiError::PresenceNotConnected,
            ErrorCode::PresenceNotConnected,
        );
    }
}

/// S-A52: `displayed` answers a shown request.
#[test]
fn s_a52_displayed_after_show_terms() {
    let mut h = H::terms_shown(7);
    assert_eq!(
        h.api(terms(TermsStatus::Displayed)),
        vec![tx(terms_frame("displayed", 7))]
    );
    h.assert_rows(&[Row::SA52]);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Displayed { request_id: 7 }
        }
    );
}

/// S-A53: `accepted` after `displayed` records the consent.
#[test]
fn s_a53_accepted_after_displayed() {
    let mut h = H::terms_displayed(7);
    assert_eq!(
        h.api(terms(TermsStatus::Accepted)),
        vec![tx(terms_frame("accepted", 7))]
    );
    h.assert_rows(&[Row::SA53]);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Accepted { request_id: 7 }
        }
    );
    assert_eq!(
        h.session(),
        &Session::Idle,
        "accepting does not start a session"
    );
}

/// S-A54: `declined` after `displayed` closes the request; no session for it.
#[test]
fn s_a54_declined_after_displayed() {
    let mut h = H::terms_displayed(7);
    assert_eq!(
        h.api(terms(TermsStatus::Declined)),
        vec![tx(terms_frame("declined", 7))]
    );
    h.assert_rows(&[Row::SA54]);
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::ConsentRequired,
        ErrorCode::ConsentRequired,
    );
}

/// S-A55: `displayed` with no request waiting to be displayed is out of order.
#[test]
fn s_a55_displayed_without_a_shown_request_is_refused() {
    let err = ApiError::TermsOutOfOrder {
        status: TermsStatus::Displayed,
    };
    assert_eq!(
        err.to_string(),
        format!("terms displayed is not allowed now: {WHY_DISPLAYED}")
    );
    for mut h in [
        H::presence_connected(),
        H::terms_displayed(7),
        H::terms_accepted(7),
    ] {
        h.refuse_state(
            terms(TermsStatus::Displayed),
            err.clone(),
            ErrorCode::TermsOutOfOrder,
        );
    }
}

/// S-A56: an answer before `displayed`, without a request, or a second answer, is out of
/// order: each request gets at most one answer.
#[test]
fn s_a56_answers_out_of_order_are_refused() {
    let answered_declined = {
        let mut h = H::terms_displayed(7);
        h.api(terms(TermsStatus::Declined));
        h
    };
    for mut h in [
        H::presence_connected(),
        H::terms_shown(7),
        H::terms_accepted(7),
        answered_declined,
    ] {
        for (status, word) in [
            (TermsStatus::Accepted, "accepted"),
            (TermsStatus::Declined, "declined"),
        ] {
            assert_eq!(
                ApiError::TermsOutOfOrder { status }.to_string(),
                format!("terms {word} is not allowed now: {WHY_ANSWER}")
            );
            h.refuse_state(
                terms(status),
                ApiError::TermsOutOfOrder { status },
                ErrorCode::TermsOutOfOrder,
            );
        }
    }
}

/// S-A60: `presence_disconnect` sends the disconnect, stops presence timers and reports it.
#[test]
fn s_a60_presence_disconnect() {
    let mut h = H::presence_connected();
    h.life(Lifecycle::Background);
    assert!(h.deadline(Timer::PresenceSuspend).is_some());
    assert_eq!(
        h.api(ApiCall::PresenceDisconnect),
        vec![
            tx(ClientFrame::PresenceDisconnect {}),
            ev(Event::PresenceDisconnected)
        ]
    );
    h.assert_rows(&[Row::SA60]);
    assert_eq!(
        Event::PresenceDisconnected.code(),
        "EventPresenceDisconnected"
    );
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
    // while connecting, and while waiting to retry
    let mut h = H::presence_connecting();
    h.api(ApiCall::PresenceDisconnect);
    h.assert_rows(&[Row::SA60]);
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    let mut h = H::presence_connecting();
    h.recv(ServerFrame::PresenceConnectFailed {
        reason: "busy".into(),
    });
    let outs = h.api(ApiCall::PresenceDisconnect);
    assert_eq!(outs.last(), Some(&ev(Event::PresenceDisconnected)));
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.deadline(Timer::PresenceRetry), None);
    // after a disconnect presence can connect again
    assert_eq!(
        h.api(ApiCall::presence_connect()),
        vec![tx(presence_connect_frame())]
    );
    // with the link down: reported, nothing sent
    let mut h = H::presence_connected();
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.api(ApiCall::PresenceDisconnect),
        vec![ev(Event::PresenceDisconnected)]
    );
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![ev(Event::ClearWarning), h.reinit()],
        "presence does not come back"
    );
}

/// S-A61: `presence_disconnect` while off is `EventInvalidState`.
#[test]
fn s_a61_presence_disconnect_while_off_is_invalid_state() {
    for mut h in [H::ready_anonymous(), H::identified()] {
        h.refuse_state(
            ApiCall::PresenceDisconnect,
            ApiError::PresenceNotConnected,
            ErrorCode::PresenceNotConnected,
        );
    }
}

// ---- S-F: server frames ---------------------------------------------------------------------

/// S-F01: the settings complete the first init: `EventVisitorInitialized`.
#[test]
fn s_f01_settings_complete_the_first_init() {
    let mut h = H::new();
    let p = InitParams::identified(GROUP, VID);
    h.api(init(p.clone()));
    h.now = 40;
    let outs = h.recv(settings(6));
    h.assert_rows(&[Row::SF01]);
    let e = Event::VisitorInitialized {
        settings_loaded: true,
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(e.code(), "EventVisitorInitialized");
    assert_eq!(props(&e), vec![]);
    assert_eq!(
        h.ready(),
        &Ready {
            visitor: p,
            settings: Settings {
                key_length: 6,
                loaded: true,
                agent_start: false,
            },
            lookup: Lookup::Done,
            session: Session::Idle,
            presence: Presence::Off,
            max_attempts: None,
            presence_data: BTreeMap::new(),
        }
    );
    assert_eq!(h.deadline(Timer::InitLookup), None);
    assert_eq!(h.state().timers.next(), None);
}

/// S-F02: a failed lookup still completes the init, with defaults.
#[test]
fn s_f02_init_failed_still_initializes_with_defaults() {
    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    let outs = h.recv(ServerFrame::InitFailed {
        reason: "lookup_failed".into(),
    });
    h.assert_rows(&[Row::SF02]);
    let e = Event::VisitorInitialized {
        settings_loaded: false,
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(e.code(), "EventVisitorInitialized");
    assert_eq!(props(&e), vec![("settings", "default".to_owned())]);
    assert_eq!(
        h.ready().settings,
        Settings {
            key_length: 4,
            loaded: false,
            agent_start: false
        }
    );
    assert_eq!(h.deadline(Timer::InitLookup), None);
    // sessions are possible
    assert_eq!(
        h.api(start(StartKey::Random)),
        vec![tx(ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false
        })]
    );
}

/// S-F03: a re-init's settings: new settings, `EventVisitorInitialized` again.
#[test]
fn s_f03_reinit_settings_answer() {
    let mut h = H::ready_anonymous();
    h.api(init(InitParams::identified(GROUP, VID)));
    assert_eq!(
        h.recv(settings(8)),
        vec![ev(Event::VisitorInitialized {
            settings_loaded: true
        })]
    );
    h.assert_rows(&[Row::SF03]);
    let r = h.ready();
    assert_eq!(
        r.settings,
        Settings {
            key_length: 8,
            loaded: true,
            agent_start: false
        }
    );
    assert_eq!(r.lookup, Lookup::Done);
    assert_eq!(h.deadline(Timer::InitLookup), None);
}

/// S-F04: a re-init's failed lookup keeps the settings we had, and still reports
/// `EventVisitorInitialized`.
#[test]
fn s_f04_reinit_init_failed_keeps_settings() {
    let mut h = H::ready_anonymous();
    h.api(init(InitParams::identified(GROUP, VID)));
    assert_eq!(
        h.recv(ServerFrame::InitFailed {
            reason: "down".into()
        }),
        vec![ev(Event::VisitorInitialized {
            settings_loaded: false
        })]
    );
    h.assert_rows(&[Row::SF04]);
    let r = h.ready();
    assert_eq!(
        r.settings,
        Settings {
            key_length: 4,
            loaded: true,
            agent_start: false
        }
    );
    assert_eq!(r.lookup, Lookup::Done);
    assert_eq!(h.deadline(Timer::InitLookup), None);
}

/// S-F05: the settings answer to an `init` re-sent on a new link (S-N02) updates the
/// settings and tells the app nothing: it was told when the lookup first completed.
#[test]
fn s_f05_reattach_settings_are_silent() {
    let mut h = H::ready_anonymous();
    h.net(NetworkChange::Lost);
    h.net(NetworkChange::Restored);
    let Phase::Ready(r) = &h.state().phase else {
        panic!("ready")
    };
    assert_eq!(r.lookup, Lookup::Reattaching);
    assert_eq!(h.recv(settings(6)), vec![]);
    h.assert_rows(&[Row::SF05]);
    let Phase::Ready(r) = &h.state().phase else {
        panic!("ready")
    };
    assert_eq!(r.lookup, Lookup::Done);
    assert_eq!(r.settings.key_length, 6);
    // a second answer is unexpected again
    h.refuse_frame(
        settings(6),
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::Settings,
            state: StateKind::Phase(PhaseKind::Ready),
        },
    );
}

/// S-F06: a failed answer to a re-sent `init` keeps the settings, silently.
#[test]
fn s_f06_reattach_init_failed_keeps_settings() {
    let mut h = H::ready_anonymous();
    h.net(NetworkChange::Lost);
    h.net(NetworkChange::Restored);
    let before = match &h.state().phase {
        Phase::Ready(r) => r.settings,
        _ => panic!("ready"),
    };
    assert_eq!(
        h.recv(ServerFrame::InitFailed {
            reason: "unknown_group".into()
        }),
        vec![]
    );
    h.assert_rows(&[Row::SF06]);
    let Phase::Ready(r) = &h.state().phase else {
        panic!("ready")
    };
    assert_eq!((r.lookup, r.settings), (Lookup::Done, before));
}

/// §2: the timers due at `now` fire before the input itself, whatever the caller feeds. A
/// `session_started` that arrives after the 15 s start deadline, with no `Input::Timeout`
/// fed in between, meets the timeout first (S-T03) and is then refused (S-F99): the order
/// the spec and the simulator give, whatever the IO loop does.
#[test]
fn due_timers_fire_before_the_input() {
    let mut h = H::starting_random();
    let deadline = h.deadline(Timer::SessionStart).expect("armed");
    h.now = deadline.as_millis() + 5;
    let (r, outs) = h.step(Input::Frame(ServerFrame::SessionStarted {
        sessionkey: KEY.into(),
    }));
    assert!(
        matches!(
            r,
            Err(Error::Protocol(ProtocolError::UnexpectedFrame { .. }))
        ),
        "{r:?}"
    );
    h.assert_rows(&[Row::ST03, Row::SF99]);
    assert_eq!(
        outs,
        vec![
            tx(ClientFrame::EndSession {}),
            ev(Event::StartSessionFailed {
                reason: "timeout".into()
            }),
        ]
    );
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(
        h.state().now,
        t(h.now),
        "the time of the fired timers is kept"
    );
}

/// S-F10: `session_started` for a random key: running, `EventConnectedToSession`.
#[test]
fn s_f10_session_started_random_key() {
    let mut h = H::starting_random();
    let outs = h.recv(ServerFrame::SessionStarted {
        sessionkey: KEY.into(),
    });
    h.assert_rows(&[Row::SF10]);
    let e = Event::ConnectedToSession {
        sessionkey: KEY.into(),
        keytype: KeyType::Random,
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(e.code(), "EventConnectedToSession");
    assert_eq!(
        props(&e),
        vec![
            ("keytype", "random".to_owned()),
            ("sessionkey", KEY.to_owned())
        ]
    );
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(h.deadline(Timer::SessionStart), None);
}

/// S-F16: a random key that is not all digits is refused; the start keeps waiting.
#[test]
fn s_f16_random_session_key_must_be_digits() {
    let mut h = H::starting_random();
    for k in ["48a1", "abcd", "4-21"] {
        h.refuse_frame(
            ServerFrame::SessionStarted {
                sessionkey: k.into(),
            },
            ProtocolError::KeyNotNumeric,
        );
    }
    // the right answer still brings the session up
    h.recv(ServerFrame::SessionStarted {
        sessionkey: "0042".into(),
    });
    h.assert_rows(&[Row::SF10]);
}

/// S-F15: a custom or visitor-id start must come up with the key asked for.
#[test]
fn s_f15_session_key_must_match_the_request() {
    let mut h = H::ready_anonymous();
    h.api(start(StartKey::Custom("mine".into())));
    for k in ["yours", "1234", "Mine"] {
        h.refuse_frame(
            ServerFrame::SessionStarted {
                sessionkey: k.into(),
            },
            ProtocolError::KeyMismatch,
        );
    }
    let mut h = H::terms_accepted(1);
    h.api(start(StartKey::VisitorId));
    h.refuse_frame(
        ServerFrame::SessionStarted {
            sessionkey: "1234".into(),
        },
        ProtocolError::KeyMismatch,
    );
    h.recv(ServerFrame::SessionStarted {
        sessionkey: VID.into(),
    });
    h.assert_rows(&[Row::SF10]);
}

/// S-F11: the server refuses the start: `EventStartSessionFailed`, back to idle.
#[test]
fn s_f11_session_refused() {
    let mut h = H::starting_random();
    let outs = h.recv(ServerFrame::SessionRefused {
        reason: "no_agents".into(),
    });
    h.assert_rows(&[Row::SF11]);
    let e = Event::StartSessionFailed {
        reason: "no_agents".into(),
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(e.code(), "EventStartSessionFailed");
    assert_eq!(props(&e), vec![("reason", "no_agents".to_owned())]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionStart), None);
    // a new start is allowed
    h.api(start(StartKey::Random));
}

/// S-F12: guest counts while running.
#[test]
fn s_f12_guest_count_while_running() {
    let mut h = H::running_random();
    let e = Event::GuestCountChange { guestcount: 2 };
    assert_eq!(
        h.recv(ServerFrame::GuestCount { guestcount: 2 }),
        vec![ev(e.clone())]
    );
    h.assert_rows(&[Row::SF12]);
    assert_eq!(e.code(), "EventGuestCountChange");
    assert_eq!(props(&e), vec![("guestcount", "2".to_owned())]);
    assert_eq!(
        h.session(),
        &Session::Running {
            key: KEY.into(),
            keytype: KeyType::Random,
            guests: 2,
            paused: false,
            user_state: BTreeMap::new(),
            persist: true,
        }
    );
    assert_eq!(
        h.recv(ServerFrame::GuestCount { guestcount: 0 }),
        vec![ev(Event::GuestCountChange { guestcount: 0 })]
    );
    assert_eq!(h.session(), &h.running_random_key());
}

/// S-F13: guest counts while ending are reported; the session keeps ending.
#[test]
fn s_f13_guest_count_while_ending() {
    let mut h = H::ending_random();
    let before = h.state().clone();
    assert_eq!(
        h.recv(ServerFrame::GuestCount { guestcount: 0 }),
        vec![ev(Event::GuestCountChange { guestcount: 0 })]
    );
    h.assert_rows(&[Row::SF13]);
    assert_eq!(h.state(), &before);
}

/// S-F14: `session_ended` while running (the agent ended it) or ending (confirmation).
#[test]
fn s_f14_session_ended() {
    let mut h = H::running_random();
    let e = Event::SessionEnded {
        reason: "agent_ended".into(),
    };
    assert_eq!(
        h.recv(ServerFrame::SessionEnded {
            reason: "agent_ended".into()
        }),
        vec![ev(e.clone())]
    );
    h.assert_rows(&[Row::SF14]);
    assert_eq!(e.code(), "EventSessionEnded");
    assert_eq!(props(&e), vec![("reason", "agent_ended".to_owned())]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.state().timers.next(), None);

    let mut h = H::ending_random();
    assert!(h.deadline(Timer::SessionEnd).is_some());
    h.recv(ServerFrame::SessionEnded {
        reason: "visitor_ended".into(),
    });
    h.assert_rows(&[Row::SF14]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionEnd), None);
}

/// S-F14: a `session_ended` that was in flight when the link dropped also stops the grace.
#[test]
fn s_f14_session_ended_in_flight_stops_the_grace() {
    let mut h = H::running_random();
    h.net(NetworkChange::Lost);
    assert!(h.deadline(Timer::SessionGrace).is_some());
    assert_eq!(
        h.recv(ServerFrame::SessionEnded {
            reason: "agent_ended".into()
        }),
        vec![ev(Event::SessionEnded {
            reason: "agent_ended".into()
        })]
    );
    h.assert_rows(&[Row::SF14]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionGrace), None);
    assert!(h.deadline(Timer::Reconnect).is_some());
}

/// S-F20: presence connected.
#[test]
fn s_f20_presence_connected() {
    let mut h = H::presence_connecting();
    let outs = h.recv(ServerFrame::PresenceConnected {});
    assert_eq!(outs, vec![ev(Event::PresenceConnected)]);
    h.assert_rows(&[Row::SF20]);
    assert_eq!(Event::PresenceConnected.code(), "EventPresenceConnected");
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
}

/// S-F20: connected while in the background: the suspend timer starts.
#[test]
fn s_f20_presence_connected_in_background_arms_suspend() {
    let mut h = H::presence_connecting();
    assert_eq!(h.life(Lifecycle::Background), vec![]);
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
    h.now += 500;
    assert_eq!(
        h.recv(ServerFrame::PresenceConnected {}),
        vec![ev(Event::PresenceConnected)]
    );
    assert_eq!(h.deadline(Timer::PresenceSuspend), h.after(60_000));
}

/// S-F21: connect failure: `EventPresenceConnectFail` and a retry after a backoff.
#[test]
fn s_f21_presence_connect_failed_retries_with_backoff() {
    let mut h = H::presence_connecting();
    h.now += 100;
    let outs = h.recv(ServerFrame::PresenceConnectFailed {
        reason: "busy".into(),
    });
    h.assert_rows(&[Row::SF21]);
    let e = Event::PresenceConnectFail {
        reason: "busy".into(),
        retry_ms: Some(1_000),
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(e.code(), "EventPresenceConnectFail");
    assert_eq!(
        props(&e),
        vec![
            ("reason", "busy".to_owned()),
            ("retry_ms", "1000".to_owned())
        ]
    );
    assert_eq!(h.presence(), &Presence::RetryWait { attempt: 1 });
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    assert_eq!(h.deadline(Timer::PresenceRetry), h.after(1_000));
}

/// S-F21 + S-T06b: the delays are 1 s, 2 s, 4 s, … capped at 30 s.
#[test]
fn s_f21_backoff_doubles_up_to_30_s() {
    let mut h = H::presence_connecting();
    let delays = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000];
    for (i, delay) in delays.into_iter().enumerate() {
        let attempt = u32::try_from(i).unwrap();
        assert_eq!(h.presence(), &Presence::Connecting { attempt });
        assert_eq!(
            h.recv(ServerFrame::PresenceConnectFailed {
                reason: "busy".into()
            }),
            vec![ev(Event::PresenceConnectFail {
                reason: "busy".into(),
                retry_ms: Some(delay)
            })]
        );
        assert_eq!(
            h.presence(),
            &Presence::RetryWait {
                attempt: attempt + 1
            }
        );
        assert_eq!(h.advance(delay - 1), vec![], "no retry before the delay");
        assert_eq!(h.advance(1), vec![tx(presence_connect_frame())]);
        h.assert_rows(&[Row::ST06b]);
    }
    // success resets the backoff
    h.recv(ServerFrame::PresenceConnected {});
    h.api(ApiCall::PresenceDisconnect);
    h.api(ApiCall::presence_connect());
    assert_eq!(
        h.recv(ServerFrame::PresenceConnectFailed {
            reason: "busy".into()
        }),
        vec![ev(Event::PresenceConnectFail {
            reason: "busy".into(),
            retry_ms: Some(1_000)
        })]
    );
}

/// S-F22: `presence_show_terms`: `EventPresenceShowTerms`; a new request replaces an earlier
/// one.
#[test]
fn s_f22_show_terms() {
    let mut h = H::presence_connected();
    let e = Event::PresenceShowTerms { request_id: 7 };
    assert_eq!(
        h.recv(ServerFrame::PresenceShowTerms { request_id: 7 }),
        vec![ev(e.clone())]
    );
    h.assert_rows(&[Row::SF22]);
    assert_eq!(e.code(), "EventPresenceShowTerms");
    assert_eq!(props(&e), vec![("request_id", "7".to_owned())]);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Shown { request_id: 7 }
        }
    );
    h.api(terms(TermsStatus::Displayed));
    h.recv(ServerFrame::PresenceShowTerms { request_id: 8 });
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::Shown { request_id: 8 }
        }
    );
    // the new request needs its own `displayed` before an answer
    h.refuse_state(
        terms(TermsStatus::Accepted),
        ApiError::TermsOutOfOrder {
            status: TermsStatus::Accepted,
        },
        ErrorCode::TermsOutOfOrder,
    );
    assert_eq!(
        h.api(terms(TermsStatus::Displayed)),
        vec![tx(terms_frame("displayed", 8))]
    );
}

/// S-F23: blur: another instance took the visitor id.
#[test]
fn s_f23_presence_blur() {
    let mut h = H::terms_displayed(4);
    assert_eq!(
        h.recv(ServerFrame::PresenceBlur {}),
        vec![ev(Event::PresenceBlur)]
    );
    h.assert_rows(&[Row::SF23]);
    assert_eq!(Event::PresenceBlur.code(), "EventPresenceBlur");
    assert_eq!(h.presence(), &Presence::Blurred);
    // the pending request is gone: a presence message while blurred could not be sent (S-A58)
    h.refuse_send_fail(terms(TermsStatus::Accepted));
}

/// S-F99: a frame the state does not expect is refused and changes nothing.
#[test]
fn s_f99_unexpected_frames_are_refused() {
    fn unexpected(frame: ServerFrameKind, state: StateKind) -> ProtocolError {
        ProtocolError::UnexpectedFrame { frame, state }
    }
    let started = || ServerFrame::SessionStarted {
        sessionkey: KEY.into(),
    };
    let mut h = H::new();
    h.refuse_frame(
        settings(4),
        unexpected(
            ServerFrameKind::Settings,
            StateKind::Phase(PhaseKind::Uninitialized),
        ),
    );
    h.api(init(InitParams::anonymous(GROUP)));
    h.refuse_frame(
        started(),
        unexpected(
            ServerFrameKind::SessionStarted,
            StateKind::Phase(PhaseKind::Initializing),
        ),
    );
    h.recv(settings(4));
    h.refuse_frame(
        settings(4),
        unexpected(
            ServerFrameKind::Settings,
            StateKind::Phase(PhaseKind::Ready),
        ),
    );
    h.refuse_frame(
        ServerFrame::InitFailed { reason: "x".into() },
        unexpected(
            ServerFrameKind::InitFailed,
            StateKind::Phase(PhaseKind::Ready),
        ),
    );
    h.refuse_frame(
        started(),
        unexpected(
            ServerFrameKind::SessionStarted,
            StateKind::Session(SessionKind::Idle),
        ),
    );
    h.refuse_frame(
        ServerFrame::SessionRefused { reason: "x".into() },
        unexpected(
            ServerFrameKind::SessionRefused,
            StateKind::Session(SessionKind::Idle),
        ),
    );
    h.refuse_frame(
        ServerFrame::GuestCount { guestcount: 1 },
        unexpected(
            ServerFrameKind::GuestCount,
            StateKind::Session(SessionKind::Idle),
        ),
    );
    h.refuse_frame(
        ServerFrame::SessionEnded { reason: "x".into() },
        unexpected(
            ServerFrameKind::SessionEnded,
            StateKind::Session(SessionKind::Idle),
        ),
    );
    h.refuse_frame(
        ServerFrame::PresenceConnected {},
        unexpected(
            ServerFrameKind::PresenceConnected,
            StateKind::Presence(PresenceKind::Off),
        ),
    );
    h.refuse_frame(
        ServerFrame::PresenceConnectFailed { reason: "x".into() },
        unexpected(
            ServerFrameKind::PresenceConnectFailed,
            StateKind::Presence(PresenceKind::Off),
        ),
    );
    h.refuse_frame(
        ServerFrame::PresenceShowTerms { request_id: 1 },
        unexpected(
            ServerFrameKind::PresenceShowTerms,
            StateKind::Presence(PresenceKind::Off),
        ),
    );
    h.refuse_frame(
        ServerFrame::PresenceBlur {},
        unexpected(
            ServerFrameKind::PresenceBlur,
            StateKind::Presence(PresenceKind::Off),
        ),
    );
    let mut h = H::starting_random();
    h.refuse_frame(
        ServerFrame::GuestCount { guestcount: 1 },
        unexpected(
            ServerFrameKind::GuestCount,
            StateKind::Session(SessionKind::Starting),
        ),
    );
    h.refuse_frame(
        ServerFrame::SessionEnded { reason: "x".into() },
        unexpected(
            ServerFrameKind::SessionEnded,
            StateKind::Session(SessionKind::Starting),
        ),
    );
    let mut h = H::running_random();
    h.refuse_frame(
        started(),
        unexpected(
            ServerFrameKind::SessionStarted,
            StateKind::Session(SessionKind::Running),
        ),
    );
    let mut h = H::presence_connecting();
    h.refuse_frame(
        ServerFrame::PresenceBlur {},
        unexpected(
            ServerFrameKind::PresenceBlur,
            StateKind::Presence(PresenceKind::Connecting),
        ),
    );
    let mut h = H::presence_connected();
    h.refuse_frame(
        ServerFrame::PresenceConnected {},
        unexpected(
            ServerFrameKind::PresenceConnected,
            StateKind::Presence(PresenceKind::Connected),
        ),
    );
    h.life(Lifecycle::Terminate);
    h.refuse_frame(
        settings(4),
        unexpected(
            ServerFrameKind::Settings,
            StateKind::Phase(PhaseKind::Terminated),
        ),
    );
}

/// S-F98: an invalid frame (out of range, wrong version, undecodable) is refused before the
/// state is looked at, and changes nothing.
#[test]
fn s_f98_invalid_frames_are_refused() {
    for mut h in [H::new(), H::starting_random(), H::presence_connected()] {
        h.refuse_frame(
            ServerFrame::Settings {
                v: 2,
                key_length: 4,
                agent_start: false,
            },
            ProtocolError::Frame(FrameError::Version { got: 2 }),
        );
        for key_length in [0, 17] {
            h.refuse_frame(
                settings(key_length),
                ProtocolError::Frame(FrameError::Field {
                    field: "key_length",
                }),
            );
        }
        for sessionkey in ["a b", "", "k=="] {
            h.refuse_frame(
                ServerFrame::SessionStarted {
                    sessionkey: sessionkey.into(),
                },
                ProtocolError::Frame(FrameError::Field {
                    field: "sessionkey",
                }),
            );
        }
        h.refuse_frame(
            ServerFrame::SessionEnded {
                reason: "r".repeat(257),
            },
            ProtocolError::Frame(FrameError::Field { field: "reason" }),
        );
        // bytes: the same refusal through handle_bytes
        let before = h.state().clone();
        assert!(matches!(
            h.sdk.handle_bytes(h.at(), b"{\"type\":\"nope\"}"),
            Err(Error::Protocol(ProtocolError::Frame(
                FrameError::Malformed(_)
            )))
        ));
        assert!(matches!(
            h.sdk
                .handle_bytes(h.at(), br#"{"type":"presence_blur","x":1}"#),
            Err(Error::Protocol(ProtocolError::Frame(
                FrameError::Malformed(_)
            )))
        ));
        assert_eq!(
            h.sdk
                .handle_bytes(h.at(), br#"{"type":"settings","v":2,"key_length":4}"#),
            Err(Error::Protocol(ProtocolError::Frame(FrameError::Version {
                got: 2
            })))
        );
        h.assert_rows(&[Row::SF98]);
        assert_eq!(drain(&mut h.sdk), vec![]);
        assert_eq!(h.state(), &before);
    }
}

// ---- S-L: lifecycle -------------------------------------------------------------------------

/// S-L01: background with presence on: tell the server, start the suspend timer.
#[test]
fn s_l01_background_with_presence_arms_suspend() {
    let mut h = H::presence_connected();
    h.now += 1_000;
    assert_eq!(
        h.life(Lifecycle::Background),
        vec![tx(ClientFrame::AppState { foreground: false })]
    );
    h.assert_rows(&[Row::SL01]);
    assert_eq!(h.state().app, AppVisibility::Background);
    assert_eq!(h.deadline(Timer::PresenceSuspend), h.after(60_000));
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
}

/// S-L01: background with a session and no presence: tell the server, no suspend timer; with
/// nothing on, nothing is sent.
#[test]
fn s_l01_background_without_presence() {
    let mut h = H::running_random();
    assert_eq!(
        h.life(Lifecycle::Background),
        vec![tx(ClientFrame::AppState { foreground: false })]
    );
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
    assert_eq!(h.session(), &h.running_random_key());

    let mut h = H::ready_anonymous();
    assert_eq!(h.life(Lifecycle::Background), vec![]);
    h.assert_rows(&[Row::SL01]);
    assert_eq!(h.state().app, AppVisibility::Background);
    assert_eq!(h.state().timers.next(), None);

    // before ready only `app` is recorded
    let mut h = H::new();
    h.api(init(InitParams::identified(GROUP, VID)));
    let before = h.state().clone();
    assert_eq!(h.life(Lifecycle::Background), vec![]);
    h.assert_rows(&[Row::SL01]);
    assert_eq!(
        h.state(),
        &State {
            app: AppVisibility::Background,
            ..before
        }
    );
}

/// S-L02a: foreground before the suspend: presence stays, the timer stops.
#[test]
fn s_l02a_foreground_before_suspend_keeps_presence() {
    let mut h = H::presence_connected();
    h.life(Lifecycle::Background);
    assert_eq!(h.advance(59_999), vec![]);
    assert_eq!(
        h.life(Lifecycle::Foreground),
        vec![tx(ClientFrame::AppState { foreground: true })]
    );
    h.assert_rows(&[Row::SL02a]);
    assert_eq!(h.state().app, AppVisibility::Foreground);
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    assert_eq!(h.advance(120_000), vec![]);
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });

    // a session alone: app_state too; nothing on: nothing sent
    let mut h = H::running_random();
    h.life(Lifecycle::Background);
    assert_eq!(
        h.life(Lifecycle::Foreground),
        vec![tx(ClientFrame::AppState { foreground: true })]
    );
    let mut h = H::ready_anonymous();
    h.life(Lifecycle::Background);
    assert_eq!(h.life(Lifecycle::Foreground), vec![]);
    h.assert_rows(&[Row::SL02a]);
    assert_eq!(h.state().app, AppVisibility::Foreground);
}

/// S-L02b: foreground after the suspend: presence reconnects.
#[test]
fn s_l02b_foreground_after_suspend_resumes_presence() {
    let mut h = H::running_with_presence();
    h.life(Lifecycle::Background);
    h.advance(60_000);
    assert_eq!(h.presence(), &Presence::Suspended);
    h.now += 5_000;
    // the session is told the app is in front again, too
    assert_eq!(
        h.life(Lifecycle::Foreground),
        vec![
            tx(presence_connect_frame()),
            tx(ClientFrame::AppState { foreground: true })
        ]
    );
    h.assert_rows(&[Row::SL02b]);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceConnect), h.after(10_000));
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(
        h.recv(ServerFrame::PresenceConnected {}),
        vec![ev(Event::PresenceConnected)]
    );
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
}

/// S-L02b: foreground reclaims a blurred presence.
#[test]
fn s_l02b_foreground_reclaims_a_blurred_presence() {
    let mut h = H::presence_connected();
    h.recv(ServerFrame::PresenceBlur {});
    assert_eq!(
        h.life(Lifecycle::Background),
        vec![tx(ClientFrame::AppState { foreground: false })]
    );
    assert!(h.deadline(Timer::PresenceSuspend).is_some());
    assert_eq!(
        h.life(Lifecycle::Foreground),
        vec![tx(presence_connect_frame())]
    );
    h.assert_rows(&[Row::SL02b]);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
}

/// S-L02b: a suspended presence with the link down waits for the link.
#[test]
fn s_l02b_foreground_with_link_down_awaits_the_link() {
    let mut h = H::presence_connected();
    h.life(Lifecycle::Background);
    h.advance(60_000);
    h.net(NetworkChange::Lost);
    assert_eq!(h.presence(), &Presence::Suspended);
    assert_eq!(h.life(Lifecycle::Foreground), vec![]);
    h.assert_rows(&[Row::SL02b]);
    assert_eq!(h.presence(), &Presence::AwaitingLink);
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            h.reinit(),
            tx(presence_connect_frame())
        ]
    );
}

/// S-L03: a repeated background or foreground changes nothing (the suspend timer is not
/// pushed back).
#[test]
fn s_l03_repeated_lifecycle_changes_nothing() {
    let mut h = H::presence_connected();
    h.life(Lifecycle::Background);
    let before = h.state().clone();
    h.now += 30_000;
    assert_eq!(h.life(Lifecycle::Background), vec![]);
    h.assert_rows(&[Row::SL03]);
    assert_eq!(
        State {
            now: before.now,
            ..h.state().clone()
        },
        before
    );
    h.life(Lifecycle::Foreground);
    let before = h.state().clone();
    assert_eq!(h.life(Lifecycle::Foreground), vec![]);
    h.assert_rows(&[Row::SL03]);
    assert_eq!(h.state(), &before);
    // a fresh SDK starts in the foreground
    let mut h = H::new();
    assert_eq!(h.life(Lifecycle::Foreground), vec![]);
    assert_eq!(h.state().app, AppVisibility::Foreground);
}

/// S-L04: terminate ends the session and presence, clears every timer, takes no more calls.
#[test]
fn s_l04_terminate_ends_everything() {
    let mut h = H::running_with_presence();
    h.life(Lifecycle::Background);
    assert_eq!(
        h.life(Lifecycle::Terminate),
        vec![
            tx(ClientFrame::EndSession {}),
            ev(Event::SessionEnded {
                reason: "terminated".into()
            }),
            tx(ClientFrame::PresenceDisconnect {}),
            ev(Event::PresenceDisconnected),
        ]
    );
    h.assert_rows(&[Row::SL04]);
    assert_eq!(h.state().phase, Phase::Terminated);
    assert_eq!(h.state().timers.next(), None);
    for call in [
        init(InitParams::anonymous(GROUP)),
        start(StartKey::Random),
        ApiCall::EndSession,
        ApiCall::presence_connect(),
        ApiCall::PresenceDisconnect,
    ] {
        h.refuse_state(call, ApiError::Terminated, ErrorCode::Terminated);
    }
}

/// S-L04: terminate while starting is `EventStartSessionFailed`; while ending, the end
/// completes locally without another frame.
#[test]
fn s_l04_terminate_while_starting_or_ending() {
    let mut h = H::starting_random();
    assert_eq!(
        h.life(Lifecycle::Terminate),
        vec![
            tx(ClientFrame::EndSession {}),
            ev(Event::StartSessionFailed {
                reason: "terminated".into()
            }),
        ]
    );
    assert_eq!(h.state().phase, Phase::Terminated);
    assert_eq!(h.state().timers.next(), None);

    let mut h = H::ending_random();
    assert_eq!(
        h.life(Lifecycle::Terminate),
        vec![ev(Event::SessionEnded {
            reason: "terminated".into()
        })]
    );
    assert_eq!(h.state().timers.next(), None);

    // idle, nothing on: nothing to say
    let mut h = H::ready_anonymous();
    assert_eq!(h.life(Lifecycle::Terminate), vec![]);
    assert_eq!(h.state().phase, Phase::Terminated);
}

/// S-L04: terminate with the link down reports the endings but sends nothing.
#[test]
fn s_l04_terminate_with_link_down_sends_nothing() {
    let mut h = H::running_with_presence();
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.life(Lifecycle::Terminate),
        vec![
            ev(Event::SessionEnded {
                reason: "terminated".into()
            }),
            ev(Event::PresenceDisconnected),
        ]
    );
    assert_eq!(h.state().timers.next(), None, "no more reconnects");
}

/// S-L05: terminate before the first init completes: terminated, timers cleared, silent.
#[test]
fn s_l05_terminate_before_ready() {
    let mut h = H::new();
    assert_eq!(h.life(Lifecycle::Terminate), vec![]);
    h.assert_rows(&[Row::SL05]);
    assert_eq!(h.state().phase, Phase::Terminated);
    h.refuse_state(
        init(InitParams::anonymous(GROUP)),
        ApiError::Terminated,
        ErrorCode::Terminated,
    );

    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    assert!(h.deadline(Timer::InitLookup).is_some());
    assert_eq!(h.life(Lifecycle::Terminate), vec![]);
    assert_eq!(h.state().phase, Phase::Terminated);
    assert_eq!(h.state().timers.next(), None);
    assert_eq!(
        h.advance(20_000),
        vec![],
        "no EventVisitorInitialized after terminate"
    );
    // terminating again is harmless
    assert_eq!(h.life(Lifecycle::Terminate), vec![]);
    h.assert_rows(&[Row::SL05]);
    assert_eq!(h.state().phase, Phase::Terminated);
}

// ---- S-N: network ---------------------------------------------------------------------------

/// S-N01: link lost: `EventConnectionWarning`, reconnect backoff, session grace, presence
/// waits for the link.
#[test]
fn s_n01_network_lost() {
    let mut h = H::running_with_presence();
    h.life(Lifecycle::Background);
    h.now += 1_000;
    let outs = h.net(NetworkChange::Lost);
    assert_eq!(outs, vec![ev(Event::ConnectionWarning)]);
    h.assert_rows(&[Row::SN01]);
    assert_eq!(Event::ConnectionWarning.code(), "EventConnectionWarning");
    assert_eq!(h.state().link, Link::Down { attempt: 0 });
    assert_eq!(h.deadline(Timer::Reconnect), h.after(1_000));
    assert_eq!(h.deadline(Timer::SessionGrace), h.after(60_000));
    assert_eq!(h.presence(), &Presence::AwaitingLink);
    assert_eq!(h.deadline(Timer::PresenceSuspend), None);
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    assert_eq!(h.session(), &h.running_random_key());
}

/// S-N01: no frames leave while the link is down.
#[test]
fn s_n01_no_frames_while_down() {
    let mut h = H::running_random();
    h.api(init(InitParams::identified(GROUP, VID)));
    h.recv(settings(4));
    h.net(NetworkChange::Lost);
    let mut all = Vec::new();
    all.extend(h.life(Lifecycle::Background));
    all.extend(h.life(Lifecycle::Foreground));
    all.extend(h.api(ApiCall::presence_connect()));
    all.extend(h.api(init(InitParams::identified(GROUP, VID))));
    all.extend(h.api(ApiCall::EndSession));
    all.extend(h.advance(60_000)); // the grace ends it (S-T04b, S-T05b)
    all.extend(h.api(start(StartKey::Random)));
    all.extend(h.advance(15_000));
    assert!(
        all.iter().all(|o| !matches!(o, Output::Transmit(_))),
        "nothing transmitted while down: {all:?}"
    );
    assert!(all.contains(&Output::Connect));
}

/// S-N01: before the first init completes: a warning all the same (paired with its clear).
#[test]
fn s_n01_network_lost_before_ready() {
    let mut h = H::new();
    assert_eq!(
        h.net(NetworkChange::Lost),
        vec![ev(Event::ConnectionWarning)]
    );
    h.assert_rows(&[Row::SN01]);
    assert_eq!(h.state().link, Link::Down { attempt: 0 });
    assert_eq!(h.deadline(Timer::Reconnect), Some(t(1_000)));
    // init while down: no frame; the lookup deadline still completes it with defaults
    let p = InitParams::anonymous(GROUP);
    assert_eq!(h.api(init(p.clone())), vec![]);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![ev(Event::ClearWarning), tx(init_frame(&p))]
    );
    // uninitialised: the clear pairs the warning, nothing else
    let mut h = H::new();
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![ev(Event::ClearWarning)]
    );
    h.assert_rows(&[Row::SN02]);

    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    assert_eq!(
        h.net(NetworkChange::Lost),
        vec![ev(Event::ConnectionWarning)]
    );
    assert_eq!(h.deadline(Timer::SessionGrace), None);
}

/// S-N02: link restored: `EventClearWarning`, the session resumes, presence reconnects.
#[test]
fn s_n02_network_restored_resumes() {
    let mut h = H::running_with_presence();
    h.net(NetworkChange::Lost);
    h.now += 20_000;
    let outs = h.net(NetworkChange::Restored);
    assert_eq!(
        outs,
        vec![
            // the reconnect deadline passed at 1 s: it fires first (spec.md §2)
            Output::Connect,
            ev(Event::ClearWarning),
            h.reinit(),
            tx(ClientFrame::ResumeSession {
                sessionkey: KEY.into()
            }),
            tx(presence_connect_frame()),
        ]
    );
    h.assert_rows(&[Row::ST08, Row::SN02]);
    assert_eq!(Event::ClearWarning.code(), "EventClearWarning");
    // in the background, the restored link also tells the service the app is hidden
    let mut b = H::running_random();
    b.life(Lifecycle::Background);
    b.net(NetworkChange::Lost);
    assert_eq!(
        b.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            b.reinit(),
            tx(ClientFrame::ResumeSession {
                sessionkey: KEY.into()
            }),
            tx(ClientFrame::AppState { foreground: false }),
        ]
    );
    assert_eq!(h.state().link, Link::Up);
    assert_eq!(h.deadline(Timer::Reconnect), None);
    assert_eq!(h.deadline(Timer::SessionGrace), None);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceConnect), h.after(10_000));
    assert_eq!(h.session(), &h.running_random_key());
    // frames flow again
    assert_eq!(
        h.api(ApiCall::EndSession),
        vec![tx(ClientFrame::EndSession {})]
    );
}

/// S-N02: what was in flight is sent again: init, start, end.
#[test]
fn s_n02_network_restored_resends_what_is_in_flight() {
    // the first init
    let mut h = H::new();
    let p = InitParams::anonymous(GROUP);
    h.api(init(p.clone()));
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![ev(Event::ClearWarning), tx(init_frame(&p))]
    );
    // a re-init's lookup
    let mut h = H::ready_anonymous();
    let p = InitParams::identified(GROUP, VID);
    h.api(init(p.clone()));
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![ev(Event::ClearWarning), tx(init_frame(&p))]
    );
    // a start
    let mut h = H::terms_accepted(2);
    h.api(start(StartKey::VisitorId));
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            h.reinit(),
            tx(ClientFrame::StartSession {
                key: Some(VID.into()),
                max_guests: None,
                paused: false
            }),
            tx(presence_connect_frame()),
        ]
    );
    // an end
    let mut h = H::ending_random();
    h.net(NetworkChange::Lost);
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            h.reinit(),
            tx(ClientFrame::EndSession {})
        ]
    );
}

/// S-N03: a repeated lost or restored changes nothing.
#[test]
fn s_n03_repeated_network_changes_change_nothing() {
    let mut h = H::running_random();
    let before = h.state().clone();
    assert_eq!(h.net(NetworkChange::Restored), vec![]);
    h.assert_rows(&[Row::SN03]);
    assert_eq!(h.state(), &before);
    h.net(NetworkChange::Lost);
    h.advance(1_000); // one reconnect attempt
    let before = h.state().clone();
    assert_eq!(h.net(NetworkChange::Lost), vec![]);
    h.assert_rows(&[Row::SN03]);
    assert_eq!(
        h.state(),
        &before,
        "neither the backoff nor the grace restarts"
    );
}

/// S-N05: after terminate the network is ignored.
#[test]
fn s_n05_network_after_terminate_is_ignored() {
    let mut h = H::running_random();
    h.life(Lifecycle::Terminate);
    let before = h.state().clone();
    assert_eq!(h.net(NetworkChange::Lost), vec![]);
    h.assert_rows(&[Row::SN05]);
    assert_eq!(h.state(), &before);
    assert_eq!(h.advance(10_000), vec![], "no reconnects");

    let mut h = H::running_random();
    h.net(NetworkChange::Lost);
    h.life(Lifecycle::Terminate);
    let before = h.state().clone();
    assert_eq!(h.net(NetworkChange::Restored), vec![]);
    assert_eq!(h.state(), &before);
}

// ---- S-T: timers ----------------------------------------------------------------------------

/// S-T01: the first lookup is overdue: initialised with defaults all the same.
#[test]
fn s_t01_init_lookup_timeout_initializes_with_defaults() {
    let mut h = H::new();
    let p = InitParams::anonymous(GROUP);
    h.api(init(p.clone()));
    assert_eq!(h.advance(9_999), vec![]);
    assert!(matches!(h.state().phase, Phase::Initializing { .. }));
    let outs = h.advance(1);
    h.assert_rows(&[Row::ST01]);
    let e = Event::VisitorInitialized {
        settings_loaded: false,
    };
    assert_eq!(outs, vec![ev(e.clone())]);
    assert_eq!(props(&e), vec![("settings", "default".to_owned())]);
    assert_eq!(
        h.ready(),
        &Ready {
            visitor: p,
            settings: Settings {
                key_length: 4,
                loaded: false,
                agent_start: false
            },
            lookup: Lookup::Done,
            session: Session::Idle,
            presence: Presence::Off,
            max_attempts: None,
            presence_data: BTreeMap::new(),
        }
    );
    assert_eq!(h.state().timers.next(), None);
    // a late answer is not expected any more
    h.refuse_frame(
        settings(6),
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::Settings,
            state: StateKind::Phase(PhaseKind::Ready),
        },
    );
}

/// S-T01: the configured default key length is used.
#[test]
fn s_t01_uses_the_configured_default_key_length() {
    let mut h = H::with(SdkConfig {
        default_key_length: 9,
        ..SdkConfig::default()
    });
    h.api(init(InitParams::anonymous(GROUP)));
    h.advance(10_000);
    assert_eq!(
        h.ready().settings,
        Settings {
            key_length: 9,
            loaded: false,
            agent_start: false
        }
    );
}

/// S-T02: a re-init's lookup is overdue: `EventVisitorInitialized` with the settings we had.
#[test]
fn s_t02_reinit_lookup_timeout() {
    let mut h = H::running_random();
    h.api(init(InitParams::identified(GROUP, VID)));
    assert_eq!(h.advance(9_999), vec![]);
    assert_eq!(
        h.advance(1),
        vec![ev(Event::VisitorInitialized {
            settings_loaded: false
        })]
    );
    h.assert_rows(&[Row::ST02]);
    let r = h.ready();
    assert_eq!(r.lookup, Lookup::Done);
    assert_eq!(
        r.settings,
        Settings {
            key_length: 4,
            loaded: true,
            agent_start: false
        }
    );
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(h.deadline(Timer::InitLookup), None);
}

/// S-T03: no answer to the start: `EventStartSessionFailed {timeout}`, abandon on the server.
#[test]
fn s_t03_start_timeout() {
    let mut h = H::starting_random();
    assert_eq!(h.advance(14_999), vec![]);
    assert_eq!(
        h.advance(1),
        vec![
            tx(ClientFrame::EndSession {}),
            ev(Event::StartSessionFailed {
                reason: "timeout".into()
            }),
        ]
    );
    h.assert_rows(&[Row::ST03]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.state().timers.next(), None);
    // a late answer is no longer expected
    h.refuse_frame(
        ServerFrame::SessionStarted {
            sessionkey: KEY.into(),
        },
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::SessionStarted,
            state: StateKind::Session(SessionKind::Idle),
        },
    );
}

/// S-T03: a start that times out while offline takes its grace timer with it (spec.md §5.5:
/// timers are disarmed with their state).
#[test]
fn s_t03_start_timeout_while_offline_leaves_no_timer_behind() {
    let mut h = H::starting_random();
    h.net(NetworkChange::Lost);
    assert!(h.deadline(Timer::SessionGrace).is_some());
    let outs = h.advance(15_000);
    assert!(outs.contains(&ev(Event::StartSessionFailed {
        reason: "timeout".into()
    })));
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Transmit(_))),
        "nothing sent offline"
    );
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionGrace), None);
    assert_eq!(h.deadline(Timer::SessionStart), None);
}

/// S-T04: no confirmation of the end: it ends locally.
#[test]
fn s_t04_end_timeout_ends_locally() {
    let mut h = H::ending_random();
    assert_eq!(h.advance(4_999), vec![]);
    assert_eq!(
        h.advance(1),
        vec![ev(Event::SessionEnded {
            reason: "visitor_ended".into()
        })]
    );
    h.assert_rows(&[Row::ST04]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.state().timers.next(), None);
}

/// S-T04b: an end that times out while offline keeps ending: the `end_session` frame never
/// went out, so the session lives on at the server; the restored link sends it again (S-N02,
/// with a fresh end timer), or the grace ends the session (S-T05b).
#[test]
fn s_t04b_end_timeout_while_offline_waits_for_the_link_or_the_grace() {
    let mut h = H::running_random();
    let lost_at = h.now;
    h.net(NetworkChange::Lost);
    h.api(ApiCall::EndSession);
    h.advance(5_000);
    h.assert_rows(&[Row::ST08, Row::ST04b]);
    assert!(matches!(h.session(), Session::Ending { .. }));
    assert_eq!(h.deadline(Timer::SessionEnd), None);
    assert_eq!(
        h.deadline(Timer::SessionGrace),
        Some(Instant::from_millis(lost_at + 60_000))
    );
    // restored: end_session goes out again, with its own timer
    let mut r = h.clone();
    assert_eq!(
        r.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            r.reinit(),
            tx(ClientFrame::EndSession {})
        ]
    );
    assert_eq!(r.deadline(Timer::SessionEnd), r.after(5_000));
    // still offline at the grace: the session ends as lost
    h.now = lost_at + 60_000;
    let outs = h.ok(Input::Timeout);
    assert!(outs.contains(&ev(Event::SessionEnded {
        reason: "connection_lost".into()
    })));
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionEnd), None);
}

/// S-T05a: the link stays down past the grace while a start is pending:
/// `EventStartSessionFailed {connection_lost}`.
#[test]
fn s_t05a_grace_over_while_starting() {
    let mut h = H::with(SdkConfig {
        start_timeout: std::time::Duration::from_secs(120),
        ..SdkConfig::default()
    });
    h.api(init(InitParams::anonymous(GROUP)));
    h.recv(settings(4));
    h.api(start(StartKey::Random));
    h.net(NetworkChange::Lost);
    let outs = h.advance(59_999);
    assert!(!outs.iter().any(|o| matches!(o, Output::Event(_))));
    assert_eq!(
        h.advance(1),
        vec![ev(Event::StartSessionFailed {
            reason: "connection_lost".into()
        })]
    );
    h.assert_rows(&[Row::ST05a]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionStart), None);
    assert_eq!(h.deadline(Timer::SessionGrace), None);
}

/// S-T05b: a session survives a short loss.
#[test]
fn s_t05b_session_survives_a_short_loss() {
    let mut h = H::running_random();
    h.net(NetworkChange::Lost);
    h.advance(59_000);
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(
        h.net(NetworkChange::Restored),
        vec![
            ev(Event::ClearWarning),
            h.reinit(),
            tx(ClientFrame::ResumeSession {
                sessionkey: KEY.into()
            })
        ]
    );
    assert_eq!(h.advance(120_000), vec![]);
    assert_eq!(h.session(), &h.running_random_key());
}

/// S-T05b: … and ends with `connection_lost` after the 60 s grace.
#[test]
fn s_t05b_session_ends_after_the_grace() {
    let mut h = H::running_random();
    h.net(NetworkChange::Lost);
    let outs = h.advance(59_999);
    assert!(!outs.iter().any(|o| matches!(o, Output::Event(_))));
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(
        h.advance(1),
        vec![ev(Event::SessionEnded {
            reason: "connection_lost".into()
        })]
    );
    h.assert_rows(&[Row::ST05b]);
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionGrace), None);
    assert!(h.deadline(Timer::Reconnect).is_some(), "still reconnecting");
}

/// S-T05b: also while ending (with an end timeout longer than the grace).
#[test]
fn s_t05b_grace_over_while_ending() {
    let mut h = H::with(SdkConfig {
        end_timeout: std::time::Duration::from_secs(120),
        ..SdkConfig::default()
    });
    h.api(init(InitParams::anonymous(GROUP)));
    h.recv(settings(4));
    h.api(start(StartKey::Random));
    h.recv(ServerFrame::SessionStarted {
        sessionkey: KEY.into(),
    });
    h.api(ApiCall::EndSession);
    h.net(NetworkChange::Lost);
    h.advance(59_999);
    assert_eq!(
        h.advance(1),
        vec![ev(Event::SessionEnded {
            reason: "connection_lost".into()
        })]
    );
    assert_eq!(h.session(), &Session::Idle);
    assert_eq!(h.deadline(Timer::SessionEnd), None);
}

/// S-T06a: no answer to the presence connect: a failure, retried with backoff.
#[test]
fn s_t06a_presence_connect_timeout() {
    let mut h = H::presence_connecting();
    assert_eq!(h.advance(9_999), vec![]);
    assert_eq!(
        h.advance(1),
        vec![ev(Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: Some(1_000)
        })]
    );
    h.assert_rows(&[Row::ST06a]);
    assert_eq!(h.presence(), &Presence::RetryWait { attempt: 1 });
    assert_eq!(h.deadline(Timer::PresenceConnect), None);
    assert_eq!(h.deadline(Timer::PresenceRetry), h.after(1_000));
}

/// S-T06b: the backoff is over: connect again.
#[test]
fn s_t06b_presence_retry() {
    let mut h = H::presence_connecting();
    h.advance(10_000);
    assert_eq!(h.advance(999), vec![]);
    assert_eq!(h.advance(1), vec![tx(presence_connect_frame())]);
    h.assert_rows(&[Row::ST06b]);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 1 });
    assert_eq!(h.deadline(Timer::PresenceRetry), None);
    assert_eq!(h.deadline(Timer::PresenceConnect), h.after(10_000));
    // two timeouts in a row: 2 s
    assert_eq!(
        h.advance(10_000),
        vec![ev(Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: Some(2_000)
        })]
    );
}

/// S-T07: 60 s in the background: presence is suspended (no event, the session goes on).
#[test]
fn s_t07_background_suspends_presence_after_60_s() {
    let mut h = H::running_with_presence();
    h.life(Lifecycle::Background);
    assert_eq!(h.advance(59_999), vec![]);
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
    assert_eq!(h.advance(1), vec![tx(ClientFrame::PresenceDisconnect {})]);
    h.assert_rows(&[Row::ST07]);
    assert_eq!(h.presence(), &Presence::Suspended);
    assert_eq!(h.session(), &h.running_random_key());
    assert_eq!(h.state().timers.next(), None);
    // a blurred presence is suspended too
    let mut h = H::presence_connected();
    h.recv(ServerFrame::PresenceBlur {});
    h.life(Lifecycle::Background);
    assert_eq!(
        h.advance(60_000),
        vec![tx(ClientFrame::PresenceDisconnect {})]
    );
    assert_eq!(h.presence(), &Presence::Suspended);
}

/// S-T07: a one-click request the app never displayed (`terms` shown, no `displayed`
/// signal; the controller ignores one that comes during a session) does not keep presence up:
/// the customer never saw it, so it goes with the suspension.
#[test]
fn s_t07_an_undisplayed_request_is_suspended_with_presence() {
    let mut h = H::terms_shown(3);
    h.life(Lifecycle::Background);
    assert_eq!(
        h.advance(60_000),
        vec![tx(ClientFrame::PresenceDisconnect {})]
    );
    h.assert_rows(&[Row::ST07]);
    assert_eq!(h.presence(), &Presence::Suspended);
}

/// S-T07b: a request on the customer's screen (displayed, or accepted and not yet used)
/// keeps presence up in the background: the timer is armed again, and once the request is
/// answered the next firing suspends presence.
#[test]
fn s_t07b_displayed_terms_keep_presence_up_and_ask_again() {
    for accept in [false, true] {
        let mut h = H::terms_shown(3);
        h.api(ApiCall::terms(TermsStatus::Displayed));
        if accept {
            h.api(ApiCall::terms(TermsStatus::Accepted));
        }
        let terms = h.presence().clone();
        h.life(Lifecycle::Background);
        assert_eq!(h.advance(60_000), vec![]);
        h.assert_rows(&[Row::ST07b]);
        assert_eq!(h.presence(), &terms);
        assert_eq!(
            h.deadline(Timer::PresenceSuspend),
            Some(t(h.now + 60_000)),
            "asked again a full background_suspend later"
        );
        // answered in the background: the next firing suspends
        if !accept {
            h.api(ApiCall::terms(TermsStatus::Declined));
            assert_eq!(
                h.advance(60_000),
                vec![tx(ClientFrame::PresenceDisconnect {})]
            );
            h.assert_rows(&[Row::ST07]);
            assert_eq!(h.presence(), &Presence::Suspended);
        }
        h.life(Lifecycle::Foreground);
    }
}

/// S-T08: while the link is down, `Output::Connect` with a backoff of 1, 2, 4, 8, 16 s
/// (capped at 16 s).
#[test]
fn s_t08_reconnect_backoff() {
    let mut h = H::ready_anonymous();
    h.net(NetworkChange::Lost);
    for (i, delay) in [1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000]
        .into_iter()
        .enumerate()
    {
        let attempt = u32::try_from(i).unwrap();
        assert_eq!(h.state().link, Link::Down { attempt });
        assert_eq!(
            h.advance(delay - 1),
            vec![],
            "no reconnect before the delay"
        );
        assert_eq!(h.advance(1), vec![Output::Connect]);
        h.assert_rows(&[Row::ST08]);
        assert_eq!(
            h.state().link,
            Link::Down {
                attempt: attempt + 1
            }
        );
    }
    // restored: no more attempts
    h.net(NetworkChange::Restored);
    assert_eq!(h.deadline(Timer::Reconnect), None);
    assert_eq!(h.advance(100_000), vec![]);
}

// ---- time -----------------------------------------------------------------------------------

/// Time going backwards is refused and changes nothing (no event either).
#[test]
fn time_going_backwards_is_refused() {
    let mut h = H::running_with_presence();
    h.now += 1_000;
    h.api(ApiCall::SetDefaultUi { enabled: false });
    let last = h.at();
    let before = h.state().clone();
    for input in [
        Input::Api(ApiCall::EndSession),
        Input::Frame(ServerFrame::GuestCount { guestcount: 1 }),
        Input::Lifecycle(Lifecycle::Background),
        Input::Network(NetworkChange::Lost),
        Input::Timeout,
    ] {
        let earlier = t(last.as_millis() - 1);
        assert_eq!(
            h.sdk.handle_input(earlier, input),
            Err(Error::TimeWentBackwards { last, now: earlier })
        );
        assert_eq!(drain(&mut h.sdk), vec![]);
        assert_eq!(h.state(), &before);
    }
    // the same instant is fine
    assert_eq!(h.api(ApiCall::SetDefaultUi { enabled: true }), vec![]);
}

// ---- every row has a test -------------------------------------------------------------------

/// Whether `tests` has a test function named after `id` (`S-L02a` → `fn s_l02a_…`) with the
/// ID in its doc comment.
fn has_test(tests: &str, id: &str) -> bool {
    let fn_name = format!("fn {}_", id.to_lowercase().replace('-', "_"));
    let named = tests.contains(&fn_name);
    let documented = tests.match_indices(id).any(|(i, _)| {
        let next = tests.as_bytes().get(i + id.len());
        !next.is_some_and(|c| c.is_ascii_alphanumeric())
    });
    named && documented
}

#[test]
fn every_row_has_a_test() {
    let tests = [
        include_str!("sdk_transitions.rs"),
        include_str!("controller_transitions.rs"),
    ];
    let missing: Vec<Row> = Row::ALL
        .iter()
        .copied()
        .filter(|row| !tests.iter().any(|t| has_test(t, row.id())))
        .collect();
    assert!(
        Row::ALL.len() >= 80,
        "every row is a Row ({})",
        Row::ALL.len()
    );
    assert!(missing.is_empty(), "rows without a test: {missing:?}");
}

/// §9: a refused frame's message names the frame and the state it came in, as spec.md
/// names them.
#[test]
fn unexpected_frame_messages_name_frame_and_state() {
    let e = ProtocolError::UnexpectedFrame {
        frame: ServerFrameKind::SessionStarted,
        state: StateKind::Session(SessionKind::Ending),
    };
    assert_eq!(
        e.to_string(),
        "unexpected `session_started` frame while ending"
    );
    let e = ProtocolError::UnexpectedFrame {
        frame: ServerFrameKind::Settings,
        state: StateKind::Phase(PhaseKind::Uninitialized),
    };
    assert_eq!(
        e.to_string(),
        "unexpected `settings` frame while uninitialized"
    );
    let e = ProtocolError::UnexpectedFrame {
        frame: ServerFrameKind::PresenceBlur,
        state: StateKind::Presence(PresenceKind::AwaitingLink),
    };
    assert_eq!(
        e.to_string(),
        "unexpected `presence_blur` frame while awaiting_link"
    );
}

// ---- issue 14: the presence surface (spec.md §3.3, §3.3a, §5) --------------------------------

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn data_call(pairs: &[(&str, &str)]) -> ApiCall {
    ApiCall::PresenceData { map: data(pairs) }
}

fn connect_at_most(max_attempts: i32) -> ApiCall {
    ApiCall::PresenceConnect { max_attempts }
}

fn agent_signal() -> ServerFrame {
    ServerFrame::PresenceSignal {
        event: "open_page".into(),
        map: data(&[("page", "checkout")]),
    }
}

/// S-A26: under `agent_may_start`, with the group's `agent_start`, an agent's start request
/// grants one `start_session()` with the visitor id: the session starts (as S-A20) and the
/// grant is used up.
#[test]
fn s_a26_agent_start_grants_one_visitor_id_start() {
    let mut h = H::connected_under(ConsentPolicy::AgentMayStart, true);
    h.recv(ServerFrame::PresenceStartSession { request_id: 5 });
    h.now += 10;
    let outs = h.api(start(StartKey::VisitorId));
    h.assert_rows(&[Row::SA26, Row::SA20]);
    assert_eq!(
        outs,
        vec![tx(ClientFrame::StartSession {
            key: Some(VID.into()),
            max_guests: None,
            paused: false
        })]
    );
    assert_eq!(
        h.session(),
        &Session::Starting {
            request: KeyRequest::VisitorId(VID.into()),
            options: StartOptions::default()
        }
    );
    assert_eq!(
        h.presence(),
        &Presence::Connected { terms: Terms::None },
        "the grant is for one start"
    );
    assert_eq!(h.deadline(Timer::SessionStart), h.after(15_000));
    // the session is refused; the grant is gone with the start (S-A24)
    h.recv(ServerFrame::SessionRefused {
        reason: "busy".into(),
    });
    h.refuse_state(
        start(StartKey::VisitorId),
        ApiError::ConsentRequired,
        ErrorCode::ConsentRequired,
    );
}

/// S-A20 voids the policy's grant too: a random start after an allowed agent start.
#[test]
fn s_a20_a_random_start_voids_an_agent_start_grant() {
    let mut h = H::connected_under(ConsentPolicy::AgentMayStart, true);
    h.recv(ServerFrame::PresenceStartSession { request_id: 5 });
    h.api(start(StartKey::Random));
    h.assert_rows(&[Row::SA20]);
    assert_eq!(h.presence(), &Presence::Connected { terms: Terms::None });
}

/// S-A45: `presence_connect(n)` with n = 0 or n < −1 is an invalid parameter, before any
/// presence state is looked at.
#[test]
fn s_a45_bad_max_attempts_is_an_invalid_parameter() {
    for mut h in [
        H::identified(),
        H::presence_connected(),
        H::not_configured(),
    ] {
        for n in [0, -2, i32::MIN] {
            h.refuse_param(
                connect_at_most(n),
                ApiError::InvalidParameter(ParameterError::MaxAttempts),
                ErrorCode::InvalidParameter,
            );
        }
    }
    // -1 (forever) and any n ≥ 1 are accepted
    for n in [-1, 1, i32::MAX] {
        let mut h = H::identified();
        h.api(connect_at_most(n));
        h.assert_rows(&[Row::SA40]);
        let want = u32::try_from(n).ok();
        assert_eq!(h.ready().max_attempts, want);
    }
}

/// S-A46: after `EventPresenceNotConfigured`, `presence_connect` is refused until a re-init
/// (S-A04), which puts presence back to `off`.
#[test]
fn s_a46_connect_after_not_configured_is_refused_until_a_reinit() {
    let mut h = H::not_configured();
    for call in [ApiCall::presence_connect(), connect_at_most(3)] {
        h.refuse_state(
            call,
            ApiError::PresenceNotConfigured,
            ErrorCode::PresenceNotConfigured,
        );
    }
    // S-A04: the re-init looks again
    let p = InitParams::identified(GROUP, VID);
    assert_eq!(h.api(init(p.clone())), vec![tx(init_frame(&p))]);
    h.assert_rows(&[Row::SA04]);
    assert_eq!(h.presence(), &Presence::Off);
    h.recv(settings(4));
    assert_eq!(
        h.api(ApiCall::presence_connect()),
        vec![tx(presence_connect_frame())]
    );
    h.assert_rows(&[Row::SA40]);
}

/// S-A05 does not apply to `not_configured`: the visitor id may change (and S-A04 then turns
/// presence off, which keeps §4.1's "presence off whenever the visitor id is null").
#[test]
fn s_a05_not_configured_allows_a_visitor_id_change() {
    let mut h = H::not_configured();
    h.api(init(InitParams::anonymous(GROUP)));
    h.assert_rows(&[Row::SA04]);
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.ready().visitor.visitor_id, None);
}

/// S-A44: after a failed settings lookup, `presence_connect` with the link up tries the
/// lookup again (`init`, its answer silent: S-F05 / S-F06), then connects as S-A40.
#[test]
fn s_a44_connect_after_a_failed_lookup_tries_it_again() {
    let mut h = H::new();
    let p = InitParams::identified(GROUP, VID);
    h.api(init(p.clone()));
    h.now = 100;
    h.recv(ServerFrame::InitFailed {
        reason: "down".into(),
    });
    assert!(!h.ready().settings.loaded);
    h.now += 10;
    let outs = h.api(ApiCall::presence_connect());
    h.assert_rows(&[Row::SA44, Row::SA40]);
    assert_eq!(outs, vec![tx(init_frame(&p)), tx(presence_connect_frame())]);
    assert_eq!(h.ready().lookup, Lookup::Reattaching);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    assert_eq!(h.deadline(Timer::PresenceConnect), h.after(10_000));
    // the answer updates the settings silently (S-F05)
    assert_eq!(
        h.recv(ServerFrame::Settings {
            v: PROTOCOL_VERSION,
            key_length: 6,
            agent_start: true,
        }),
        vec![]
    );
    h.assert_rows(&[Row::SF05]);
    assert_eq!(
        h.ready().settings,
        Settings {
            key_length: 6,
            loaded: true,
            agent_start: true
        }
    );
    assert_eq!(h.ready().lookup, Lookup::Done);
    // with the settings loaded, a later connect is plain S-A40
    h.api(ApiCall::PresenceDisconnect);
    h.api(ApiCall::presence_connect());
    h.assert_rows(&[Row::SA40]);
}

/// S-A58: a signal while presence is wanted but not connected could not be sent:
/// `EventPresenceSendFail`, the call refused, nothing sent.
#[test]
fn s_a58_signal_while_presence_is_down_is_a_send_fail() {
    for mut h in H::presence_wanted_not_connected() {
        h.refuse_send_fail(terms(TermsStatus::Displayed));
        h.refuse_send_fail(ApiCall::PresenceSignalAgent {
            event: "ping".into(),
            map: BTreeMap::new(),
        });
    }
}

/// S-A72: visibility with presence off or not configured is the app's misuse.
#[test]
fn s_a72_visibility_without_presence_is_invalid_state() {
    for mut h in [H::identified(), H::ready_anonymous(), H::not_configured()] {
        h.refuse_state(
            ApiCall::PresenceSignalVisibility { visible: true },
            ApiError::PresenceNotConnected,
            ErrorCode::PresenceNotConnected,
        );
    }
}

/// S-A71: visibility while presence is wanted but not connected: `EventPresenceSendFail`.
#[test]
fn s_a71_visibility_while_presence_is_down_is_a_send_fail() {
    for mut h in H::presence_wanted_not_connected() {
        h.refuse_send_fail(ApiCall::PresenceSignalVisibility { visible: false });
    }
}

/// S-A70: visibility while connected is sent as `presence_visibility`.
#[test]
fn s_a70_visibility_while_connected_is_sent() {
    let mut h = H::terms_shown(2);
    let before = h.state().clone();
    for visible in [false, true] {
        assert_eq!(
            h.api(ApiCall::PresenceSignalVisibility { visible }),
            vec![tx(ClientFrame::PresenceVisibility { visible })]
        );
        h.assert_rows(&[Row::SA70]);
    }
    assert_eq!(h.state(), &before, "visibility is not state");
}

/// S-A80 and S-F20: presence data is merged (a key set again replaces its value), kept while
/// presence is off, sent whole when presence connects and on every change while connected;
/// S-A04 empties it for a new visitor id and keeps it for the same one.
#[test]
fn s_a80_presence_data_is_merged_and_sent_whole() {
    let mut h = H::identified();
    assert_eq!(h.api(data_call(&[("page", "cart")])), vec![]);
    h.assert_rows(&[Row::SA80]);
    assert_eq!(h.ready().presence_data, data(&[("page", "cart")]));
    h.api(ApiCall::presence_connect());
    // S-F20: the whole map before the event
    assert_eq!(
        h.recv(ServerFrame::PresenceConnected {}),
        vec![
            tx(ClientFrame::PresenceData {
                map: data(&[("page", "cart")])
            }),
            ev(Event::PresenceConnected)
        ]
    );
    h.assert_rows(&[Row::SF20]);
    assert_eq!(
        h.api(data_call(&[("state", "paying"), ("page", "checkout")])),
        vec![tx(ClientFrame::PresenceData {
            map: data(&[("page", "checkout"), ("state", "paying")])
        })]
    );
    h.assert_rows(&[Row::SA80]);
    // the empty map changes nothing but is sent whole while connected
    assert_eq!(
        h.api(data_call(&[])),
        vec![tx(ClientFrame::PresenceData {
            map: data(&[("page", "checkout"), ("state", "paying")])
        })]
    );
    // S-A04: the same visitor id keeps the data; another empties it
    h.api(ApiCall::PresenceDisconnect);
    h.api(init(InitParams::identified(GROUP, VID)));
    assert_eq!(h.ready().presence_data.len(), 2);
    h.api(init(InitParams::identified(GROUP, "cust-7")));
    assert_eq!(h.ready().presence_data, BTreeMap::new());
}

/// S-A81: a key or value over 255 characters, or more than 32 entries once merged, is an
/// invalid parameter; replacing a key of a full map is not.
#[test]
fn s_a81_oversize_presence_data_is_an_invalid_parameter() {
    let mut h = H::presence_connected();
    let long = "v".repeat(256);
    let full: Vec<(String, String)> = (0..32).map(|i| (format!("k{i}"), String::new())).collect();
    let full_call = ApiCall::PresenceData {
        map: full.iter().cloned().collect(),
    };
    let bad = [
        data_call(&[("page", &long)]),
        data_call(&[(&long, "x")]),
        ApiCall::PresenceData {
            map: (0..33).map(|i| (format!("k{i}"), String::new())).collect(),
        },
    ];
    for call in bad {
        h.refuse_param(
            call,
            ApiError::InvalidParameter(ParameterError::PresenceData),
            ErrorCode::InvalidParameter,
        );
    }
    // 255 characters and 32 entries are the limits themselves
    h.api(data_call(&[("k0", &"v".repeat(255))]));
    h.api(full_call);
    assert_eq!(h.ready().presence_data.len(), 32);
    h.refuse_param(
        data_call(&[("one_more", "x")]),
        ApiError::InvalidParameter(ParameterError::PresenceData),
        ErrorCode::InvalidParameter,
    );
    h.api(data_call(&[("k31", "replaced")]));
    h.assert_rows(&[Row::SA80]);
}

/// S-F21b: a failed attempt that is the last of `connect(maxAttempts)` gives up:
/// `EventPresenceConnectFail` without `retry_ms`, presence off, no timer.
#[test]
fn s_f21b_the_last_failed_attempt_gives_up() {
    let mut h = H::identified();
    h.api(connect_at_most(2));
    let fail = || ServerFrame::PresenceConnectFailed {
        reason: "busy".into(),
    };
    // the first of two is retried (S-F21)
    h.recv(fail());
    h.assert_rows(&[Row::SF21]);
    assert_eq!(h.advance(1_000), vec![tx(presence_connect_frame())]);
    h.assert_rows(&[Row::ST06b]);
    let e = Event::PresenceConnectFail {
        reason: "busy".into(),
        retry_ms: None,
    };
    assert_eq!(h.recv(fail()), vec![ev(e.clone())]);
    h.assert_rows(&[Row::SF21b]);
    assert_eq!(props(&e), vec![("reason", "busy".to_owned())]);
    assert_eq!(h.presence(), &Presence::Off);
    for timer in [
        Timer::PresenceConnect,
        Timer::PresenceRetry,
        Timer::PresenceSuspend,
    ] {
        assert_eq!(h.deadline(timer), None);
    }
    // the app may try again (S-A40)
    h.api(connect_at_most(1));
    h.assert_rows(&[Row::SA40]);
    assert_eq!(h.recv(fail()), vec![ev(e)]);
    h.assert_rows(&[Row::SF21b]);
}

/// S-F24: the agent's custom signal, as `EventPresenceSignal` with the signal's `event` and
/// its map's entries as properties; only while connected.
#[test]
fn s_f24_agent_signal_becomes_an_event() {
    let mut h = H::terms_shown(3);
    let before = h.state().clone();
    let e = Event::PresenceSignal {
        event: "open_page".into(),
        map: data(&[("page", "checkout")]),
    };
    assert_eq!(h.recv(agent_signal()), vec![ev(e.clone())]);
    h.assert_rows(&[Row::SF24]);
    assert_eq!(e.code(), "EventPresenceSignal");
    assert_eq!(
        props(&e),
        vec![
            ("event", "open_page".to_owned()),
            ("page", "checkout".to_owned())
        ]
    );
    assert_eq!(h.state(), &before, "a signal is not state");
    let mut h = H::presence_connecting();
    h.refuse_frame(
        agent_signal(),
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::PresenceSignal,
            state: StateKind::Presence(PresenceKind::Connecting),
        },
    );
}

/// S-F25: `presence_start_session` under `agent_may_start` with the group's `agent_start`:
/// `EventPresenceStartSession`, terms=agent_start (replacing any earlier request).
#[test]
fn s_f25_agent_start_allowed_by_policy_and_group() {
    let mut h = H::connected_under(ConsentPolicy::AgentMayStart, true);
    h.recv(ServerFrame::PresenceShowTerms { request_id: 4 });
    let e = Event::PresenceStartSession { request_id: 5 };
    assert_eq!(
        h.recv(ServerFrame::PresenceStartSession { request_id: 5 }),
        vec![ev(e.clone())]
    );
    h.assert_rows(&[Row::SF25]);
    assert_eq!(e.code(), "EventPresenceStartSession");
    assert_eq!(props(&e), vec![("request_id", "5".to_owned())]);
    assert_eq!(
        h.presence(),
        &Presence::Connected {
            terms: Terms::AgentStart { request_id: 5 }
        }
    );
}

/// S-F26: otherwise — the default policy, or a group without `agent_start` — the agent's
/// start request is the terms flow: `EventPresenceShowTerms`, terms=shown, and a visitor-id
/// start still needs the customer's accepted terms.
#[test]
fn s_f26_agent_start_otherwise_is_the_terms_flow() {
    for (policy, agent_start) in [
        (ConsentPolicy::TermsRequired, false),
        (ConsentPolicy::TermsRequired, true),
        (ConsentPolicy::AgentMayStart, false),
    ] {
        let mut h = H::connected_under(policy, agent_start);
        assert_eq!(
            h.recv(ServerFrame::PresenceStartSession { request_id: 5 }),
            vec![ev(Event::PresenceShowTerms { request_id: 5 })]
        );
        h.assert_rows(&[Row::SF26]);
        assert_eq!(
            h.presence(),
            &Presence::Connected {
                terms: Terms::Shown { request_id: 5 }
            }
        );
        h.refuse_state(
            start(StartKey::VisitorId),
            ApiError::ConsentRequired,
            ErrorCode::ConsentRequired,
        );
        // the customer's answer is for the agent's request
        h.api(terms(TermsStatus::Displayed));
        assert_eq!(
            h.api(terms(TermsStatus::Accepted)),
            vec![tx(terms_frame("accepted", 5))]
        );
    }
    // the default configuration is `terms_required`
    assert_eq!(
        SdkConfig::default().consent_policy,
        ConsentPolicy::TermsRequired
    );
}

/// S-F27: `presence_not_configured` answers a connect: `EventPresenceNotConfigured`,
/// presence not_configured, no retry; outside `connecting` it is unexpected.
#[test]
fn s_f27_presence_not_configured_stops_connecting() {
    let mut h = H::presence_connecting();
    assert_eq!(
        h.recv(ServerFrame::PresenceNotConfigured {}),
        vec![ev(Event::PresenceNotConfigured)]
    );
    h.assert_rows(&[Row::SF27]);
    assert_eq!(
        Event::PresenceNotConfigured.code(),
        "EventPresenceNotConfigured"
    );
    assert_eq!(props(&Event::PresenceNotConfigured), vec![]);
    assert_eq!(h.presence(), &Presence::NotConfigured);
    assert_eq!(h.state().timers.next(), None);
    // S-L04: nothing to disconnect
    assert_eq!(h.life(Lifecycle::Terminate), vec![]);
    h.assert_rows(&[Row::SL04]);
    let mut h = H::presence_connected();
    h.refuse_frame(
        ServerFrame::PresenceNotConfigured {},
        ProtocolError::UnexpectedFrame {
            frame: ServerFrameKind::PresenceNotConfigured,
            state: StateKind::Presence(PresenceKind::Connected),
        },
    );
}

/// S-T06c: the last attempt of `connect(maxAttempts)` times out: `EventPresenceConnectFail`
/// (timeout) without `retry_ms`, presence off.
#[test]
fn s_t06c_the_last_attempt_times_out() {
    let mut h = H::identified();
    h.api(connect_at_most(1));
    assert_eq!(
        h.advance(10_000),
        vec![ev(Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: None
        })]
    );
    h.assert_rows(&[Row::ST06c]);
    assert_eq!(h.presence(), &Presence::Off);
    assert_eq!(h.state().timers.next(), None);
    // a bound is per connect round: a restored link starts a new one (S-N02)
    let mut h = H::identified();
    h.api(connect_at_most(1));
    h.net(NetworkChange::Lost);
    h.now += 100;
    h.net(NetworkChange::Restored);
    assert_eq!(h.presence(), &Presence::Connecting { attempt: 0 });
    h.advance(10_000);
    h.assert_rows(&[Row::ST06c]);
}

/// S-T07 suspends a connected presence whose only request is an agent start (a grant is
/// not an answer in progress, unlike a displayed or accepted terms request, S-T07b).
#[test]
fn s_t07_suspends_presence_with_an_agent_start_pending() {
    let mut h = H::connected_under(ConsentPolicy::AgentMayStart, true);
    h.recv(ServerFrame::PresenceStartSession { request_id: 5 });
    h.life(Lifecycle::Background);
    assert_eq!(
        h.advance(60_000),
        vec![tx(ClientFrame::PresenceDisconnect {})]
    );
    h.assert_rows(&[Row::ST07]);
    assert_eq!(h.presence(), &Presence::Suspended);
}

/// §3.3a / S-A06: a visitor id is judged by the active limits profile, at each profile's
/// edge, and the error names the profile and its limit.
#[test]
fn s_a06_visitor_id_limits_profiles() {
    for (limits, most, tilde) in [
        (Limits::Glance5, 62usize, true),
        (Limits::GlanceCore, 100, true),
        (Limits::WebCompatible, 50, false),
    ] {
        let cfg = SdkConfig {
            limits,
            ..SdkConfig::default()
        };
        let mut ok = "v".repeat(most);
        ok.replace_range(0..1, if tilde { "~" } else { "-" });
        let mut h = H::with(cfg.clone());
        h.api(init(InitParams::identified(GROUP, &ok)));
        h.assert_rows(&[Row::SA01]);
        for bad in ["v".repeat(most + 1), String::new(), "a~b".into()] {
            if bad == "a~b" && tilde {
                continue;
            }
            let mut h = H::with(cfg.clone());
            let e = h.refuse(
                init(InitParams::identified(GROUP, &bad)),
                ApiError::InvalidParameter(ParameterError::VisitorId { limits }),
            );
            assert_eq!(
                e,
                Event::InvalidParameter {
                    call: cobrowse_visitor_core::CallName::InitVisitor,
                    code: ErrorCode::InvalidParameter
                }
            );
            let message = ParameterError::VisitorId { limits }.to_string();
            assert!(message.contains(&most.to_string()), "{message}");
            assert!(message.contains(limits.as_str()), "{message}");
        }
    }
}

// ---- issue 15: pause, user messages and state (S-A100–S-A122, S-F30), restore (§5.6) --------

fn pause(paused: bool) -> ApiCall {
    ApiCall::Pause { paused }
}

fn message(name: &str, entries: &[(&str, &str)]) -> ApiCall {
    ApiCall::SendUserMessage {
        name: name.to_owned(),
        map: entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn user_state(name: &str, value: &str) -> ApiCall {
    ApiCall::SetUserState {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

fn state_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The running session's `paused` and `user_state`.
fn paused_and_state(h: &H) -> (bool, BTreeMap<String, String>) {
    match h.session() {
        Session::Running {
            paused, user_state, ..
        } => (*paused, user_state.clone()),
        other => panic!("expected a running session, got {other:?}"),
    }
}

/// S-A100: `pause(p)` in a running session sets `paused` and sends `pause(p)`; no event
/// (the app asked for it). Unpausing sends `pause(false)`.
#[test]
fn s_a100_pause_sets_the_flag_and_tells_the_service() {
    let mut h = H::running_random();
    assert_eq!(
        h.api(pause(true)),
        vec![tx(ClientFrame::Pause { paused: true })]
    );
    h.assert_rows(&[Row::SA100]);
    assert_eq!(paused_and_state(&h), (true, BTreeMap::new()));
    // the same again is sent again (the row has no guard)
    assert_eq!(
        h.api(pause(true)),
        vec![tx(ClientFrame::Pause { paused: true })]
    );
    h.assert_rows(&[Row::SA100]);
    assert_eq!(
        h.api(pause(false)),
        vec![tx(ClientFrame::Pause { paused: false })]
    );
    h.assert_rows(&[Row::SA100]);
    assert_eq!(paused_and_state(&h), (false, BTreeMap::new()));
    // offline: the flag is kept, nothing is transmitted (S-N02 re-sends it)
    h.net(NetworkChange::Lost);
    assert_eq!(h.api(pause(true)), vec![]);
    h.assert_rows(&[Row::SA100]);
    assert!(paused_and_state(&h).0);
}

/// S-A101: `pause` without a running session (idle, starting, ending) is refused with
/// `session_not_running` and `EventInvalidState`; nothing changes. In `initializing` S-A92
/// refuses it first (`init_pending`).
#[test]
fn s_a101_pause_without_a_running_session_is_refused() {
    for mut h in [
        H::ready_anonymous(),
        H::starting_random(),
        H::ending_random(),
    ] {
        let kind = h.session().kind();
        h.refuse_state(
            pause(true),
            ApiError::SessionNotRunning(kind),
            ErrorCode::SessionNotRunning,
        );
    }
    let mut h = H::new();
    h.api(init(InitParams::anonymous(GROUP)));
    h.refuse_state(pause(true), ApiError::InitPending, ErrorCode::InitPending);
}

/// S-A110: a message in a running session is sent as `user_message(n, m)`; no state changes.
#[test]
fn s_a110_a_user_message_is_sent_in_the_running_session() {
    let mut h = H::running_random();
    let before = h.state().clone();
    assert_eq!(
        h.api(message("cart_opened", &[("items", "3")])),
        vec![tx(ClientFrame::UserMessage {
            name: "cart_opened".into(),
            map: state_map(&[("items", "3")]),
        })]
    );
    h.assert_rows(&[Row::SA110]);
    assert_eq!(h.state(), &before);
    // the limits themselves: a 255-character name, 16 entries of 255 characters
    let long = "n".repeat(255);
    let full: BTreeMap<String, String> = (0..16)
        .map(|i| (format!("k{i:0>253}"), "v".repeat(255)))
        .collect();
    let call = ApiCall::SendUserMessage {
        name: long.clone(),
        map: full.clone(),
    };
    assert_eq!(
        h.api(call),
        vec![tx(ClientFrame::UserMessage {
            name: long,
            map: full
        })]
    );
    h.assert_rows(&[Row::SA110]);
}

/// S-A111: a well-formed message without a running session is refused with
/// `session_not_running`.
#[test]
fn s_a111_a_user_message_without_a_running_session_is_refused() {
    for mut h in [
        H::ready_anonymous(),
        H::starting_random(),
        H::ending_random(),
    ] {
        let kind = h.session().kind();
        h.refuse_state(
            message("cart_opened", &[]),
            ApiError::SessionNotRunning(kind),
            ErrorCode::SessionNotRunning,
        );
    }
}

/// S-A112: a message whose name or map breaks §3.3 is an invalid parameter in any state
/// (before S-A111 in the table's order), with `EventInvalidParameter`.
#[test]
fn s_a112_a_bad_user_message_is_an_invalid_parameter() {
    let long = "x".repeat(256);
    let seventeen: Vec<(String, String)> =
        (0..17).map(|i| (format!("k{i}"), String::new())).collect();
    let bad = || {
        vec![
            message("", &[]),
            message(&long, &[]),
            message("n", &[("k", &long)]),
            message("n", &[(&long, "v")]),
            ApiCall::SendUserMessage {
                name: "n".into(),
                map: seventeen.iter().cloned().collect(),
            },
        ]
    };
    for mut h in [H::running_random(), H::ready_anonymous()] {
        for call in bad() {
            h.refuse_param(
                call,
                ApiError::InvalidParameter(ParameterError::UserMessage),
                ErrorCode::InvalidParameter,
            );
        }
    }
}

/// S-A120: a user state in a running session is merged (a name set again replaces its
/// value) and the whole merged map is sent as `user_state`.
#[test]
fn s_a120_user_state_is_merged_and_sent_whole() {
    let mut h = H::running_random();
    assert_eq!(
        h.api(user_state("step", "cart")),
        vec![tx(ClientFrame::UserState {
            state: state_map(&[("step", "cart")])
        })]
    );
    h.assert_rows(&[Row::SA120]);
    assert_eq!(
        h.api(user_state("tier", "gold")),
        vec![tx(ClientFrame::UserState {
            state: state_map(&[("step", "cart"), ("tier", "gold")])
        })]
    );
    assert_eq!(
        h.api(user_state("step", "payment")),
        vec![tx(ClientFrame::UserState {
            state: state_map(&[("step", "payment"), ("tier", "gold")])
        })]
    );
    h.assert_rows(&[Row::SA120]);
    assert_eq!(
        paused_and_state(&h),
        (false, state_map(&[("step", "payment"), ("tier", "gold")]))
    );
    // an empty value is a value
    h.api(user_state("tier", ""));
    assert_eq!(
        paused_and_state(&h).1,
        state_map(&[("step", "payment"), ("tier", "")])
    );
}

/// S-A121: `set_user_state` without a running session is refused with
/// `session_not_running` (before its fields are judged).
#[test]
fn s_a121_user_state_without_a_running_session_is_refused() {
    for mut h in [
        H::ready_anonymous(),
        H::starting_random(),
        H::ending_random(),
    ] {
        let kind = h.session().kind();
        h.refuse_state(
            user_state("step", "cart"),
            ApiError::SessionNotRunning(kind),
            ErrorCode::SessionNotRunning,
        );
        // S-A121 comes before S-A122: a bad field is still `session_not_running`
        h.refuse_state(
            user_state("", "cart"),
            ApiError::SessionNotRunning(kind),
            ErrorCode::SessionNotRunning,
        );
    }
}

/// S-A122: in a running session, a name or value that breaks §3.3, or a 17th state, is an
/// invalid parameter; a 16th state and a name set again are not.
#[test]
fn s_a122_a_bad_user_state_or_a_17th_is_an_invalid_parameter() {
    let mut h = H::running_random();
    let long = "x".repeat(256);
    for call in [
        user_state("", "v"),
        user_state(&long, "v"),
        user_state("n", &long),
    ] {
        h.refuse_param(
            call,
            ApiError::InvalidParameter(ParameterError::UserState),
            ErrorCode::InvalidParameter,
        );
    }
    for i in 0..16 {
        h.api(user_state(&format!("s{i}"), "v"));
        h.assert_rows(&[Row::SA120]);
    }
    h.refuse_param(
        user_state("s16", "v"),
        ApiError::InvalidParameter(ParameterError::UserState),
        ErrorCode::InvalidParameter,
    );
    // a name already set is not a 17th
    h.api(user_state("s3", "again"));
    h.assert_rows(&[Row::SA120]);
    assert_eq!(paused_and_state(&h).1.len(), 16);
}

/// S-F30: an agent's `user_message` in a running session is `EventMessageReceived` with the
/// name and the map's entries as properties; the state does not change.
#[test]
fn s_f30_an_agent_message_is_event_message_received() {
    let mut h = H::running_random();
    let before = h.state().clone();
    let e = Event::MessageReceived {
        name: "note".into(),
        map: state_map(&[("text", "hi")]),
    };
    assert_eq!(
        h.recv(ServerFrame::UserMessage {
            name: "note".into(),
            map: state_map(&[("text", "hi")]),
        }),
        vec![ev(e.clone())]
    );
    h.assert_rows(&[Row::SF30]);
    assert_eq!(h.state(), &before);
    assert_eq!(e.code(), "EventMessageReceived");
    assert_eq!(
        e.properties(),
        state_map(&[("name", "note"), ("text", "hi")])
    );
    // without a running session the frame is unexpected (S-F99)
    for mut h in [
        H::ready_anonymous(),
        H::starting_random(),
        H::ending_random(),
    ] {
        let kind = h.session().kind();
        h.refuse_frame(
            ServerFrame::UserMessage {
                name: "note".into(),
                map: BTreeMap::new(),
            },
            ProtocolError::UnexpectedFrame {
                frame: ServerFrameKind::UserMessage,
                state: StateKind::Session(kind),
            },
        );
    }
}

/// S-N02's issue 15 part: after `resume_session` the running session's pause (when paused)
/// and its user state (when not empty) are sent again, in that order.
#[test]
fn s_n02_resends_the_pause_and_the_user_state_after_resume() {
    let mut h = H::running_random();
    h.api(pause(true));
    h.api(user_state("step", "cart"));
    h.net(NetworkChange::Lost);
    h.now += 10;
    let out = h.net(NetworkChange::Restored);
    h.assert_rows(&[Row::SN02]);
    assert_eq!(
        out,
        vec![
            ev(Event::ClearWarning),
            tx(init_frame(&InitParams::anonymous(GROUP))),
            tx(ClientFrame::ResumeSession {
                sessionkey: KEY.into()
            }),
            tx(ClientFrame::Pause { paused: true }),
            tx(ClientFrame::UserState {
                state: state_map(&[("step", "cart")])
            }),
        ]
    );
    // unpaused and no state: only the resume
    let mut h = H::running_random();
    h.api(pause(true));
    h.api(pause(false));
    h.net(NetworkChange::Lost);
    let out = h.net(NetworkChange::Restored);
    assert_eq!(
        out,
        vec![
            ev(Event::ClearWarning),
            tx(init_frame(&InitParams::anonymous(GROUP))),
            tx(ClientFrame::ResumeSession {
                sessionkey: KEY.into()
            }),
        ]
    );
}

/// `Sdk::restore` of `h`'s snapshot taken at wall clock `saved`, `away` ms later, at `now`.
fn restore_from(h: &H, saved: u64, away: u64, now: u64) -> Sdk {
    let snap = h.sdk.snapshot(saved).expect("a ready core has a snapshot");
    let snap = Snapshot::from_json(&snap.to_json()).expect("reads back");
    Sdk::restore(SdkConfig::default(), snap, GROUP, t(now), saved + away).expect("restores")
}

/// S-R01: a running session away less than the grace comes back running (key, keytype,
/// 0 guests, paused, user state), link down, presence off; outputs `Connect` then
/// `EventConnectionWarning`; the reconnect and the rest of the grace are armed.
#[test]
fn s_r01_a_running_session_within_the_grace_is_restored_running() {
    let mut h = H::running_random();
    h.recv(ServerFrame::GuestCount { guestcount: 2 });
    h.api(pause(true));
    h.api(user_state("step", "cart"));
    let mut sdk = restore_from(&h, 1_000_000, 20_000, 5);
    assert_eq!(sdk.last_rows(), &[Row::SR01]);
    let st = sdk.state().clone();
    let Phase::Ready(r) = &st.phase else {
        panic!("a restored core is ready")
    };
    assert_eq!(
        r.session,
        Session::Running {
            key: KEY.into(),
            keytype: KeyType::Random,
            guests: 0,
            paused: true,
            user_state: state_map(&[("step", "cart")]),
            persist: true,
        }
    );
    assert_eq!(r.presence, Presence::Off);
    assert_eq!(r.lookup, Lookup::Done);
    assert_eq!(st.link, Link::Down { attempt: 0 });
    assert_eq!(st.app, AppVisibility::Foreground);
    assert_eq!(
        drain(&mut sdk),
        vec![Output::Connect, ev(Event::ConnectionWarning)]
    );
    assert_eq!(st.timers.deadline(Timer::Reconnect), Some(t(5 + 1_000)));
    assert_eq!(st.timers.deadline(Timer::SessionGrace), Some(t(5 + 40_000)));
}

/// S-R02: a running session away the grace or longer is ended by the restore:
/// `EventSessionEnded(restart_expired)`, session idle.
#[test]
fn s_r02_a_running_session_past_the_grace_ends_with_restart_expired() {
    let h = H::running_random();
    for away in [60_000, 600_000] {
        let mut sdk = restore_from(&h, 7, away, 0);
        assert_eq!(sdk.last_rows(), &[Row::SR02]);
        assert_eq!(
            drain(&mut sdk),
            vec![
                Output::Connect,
                ev(Event::SessionEnded {
                    reason: RESTART_EXPIRED.into()
                }),
                ev(Event::ConnectionWarning)
            ]
        );
        let Phase::Ready(r) = &sdk.state().phase else {
            panic!("ready")
        };
        assert_eq!(r.session, Session::Idle);
        assert_eq!(sdk.state().timers.deadline(Timer::SessionGrace), None);
        assert_eq!(
            sdk.state().timers.deadline(Timer::Reconnect),
            Some(t(1_000))
        );
    }
}

/// S-R03: no running session (idle, or a starting or ending one, which is not kept): the
/// restored core is idle, `Connect` and `EventConnectionWarning`, no grace.
#[test]
fn s_r03_without_a_running_session_the_restore_is_idle() {
    for h in [H::ready_anonymous(), H::starting_random()] {
        let mut sdk = restore_from(&h, 0, 5, 0);
        assert_eq!(sdk.last_rows(), &[Row::SR03]);
        assert_eq!(
            drain(&mut sdk),
            vec![Output::Connect, ev(Event::ConnectionWarning)]
        );
        let Phase::Ready(r) = &sdk.state().phase else {
            panic!("ready")
        };
        assert_eq!(r.session, Session::Idle);
        assert_eq!(r.visitor, InitParams::anonymous(GROUP));
        assert_eq!(sdk.state().timers.deadline(Timer::SessionGrace), None);
    }
    // INV-RESTORE-GROUP: another group's snapshot is refused whole
    let snap = H::ready_anonymous().sdk.snapshot(0).expect("ready");
    assert!(matches!(
        Sdk::restore(SdkConfig::default(), snap, OTHER_GROUP, t(0), 0),
        Err(RestoreError::GroupId { .. })
    ));
}

/// S-R04: an ending session is kept (its `end_session` may never have reached the service):
/// the restored core is ending, with what is left of the grace; the new link's S-N02 sends
/// `end_session` again and arms `session_end`. Past the grace it is S-R02.
#[test]
fn s_r04_an_ending_session_is_ended_again_on_the_new_link() {
    let mut sdk = restore_from(&H::ending_random(), 0, 5, 1_000);
    assert_eq!(sdk.last_rows(), &[Row::SR04]);
    assert_eq!(
        drain(&mut sdk),
        vec![Output::Connect, ev(Event::ConnectionWarning)]
    );
    let Phase::Ready(r) = &sdk.state().phase else {
        panic!("ready")
    };
    assert_eq!(
        r.session,
        Session::Ending {
            keytype: KeyType::Random
        }
    );
    // restored at 1 000 ms, 5 ms away: the rest of the grace
    assert_eq!(
        sdk.state().timers.deadline(Timer::SessionGrace),
        Some(t(1_000 + 60_000 - 5))
    );
    sdk.handle_input(t(1_010), Input::Network(NetworkChange::Restored))
        .unwrap();
    let out = drain(&mut sdk);
    assert!(
        out.contains(&Output::Transmit(ClientFrame::EndSession {})),
        "{out:?}"
    );
    assert!(sdk.state().timers.deadline(Timer::SessionEnd).is_some());
    let late = restore_from(&H::ending_random(), 0, 60_000, 5);
    assert_eq!(late.last_rows(), &[Row::SR02]);
}

/// S-R01 after S-A04: a one-click session keeps running when the app re-inits with another
/// visitor id (a logout: presence disconnected, then `init_visitor` anonymous); its snapshot
/// is restored running, not refused as corrupt (found by the model suite's relaunch: the
/// restore compared the key with the current visitor id).
#[test]
fn s_r01_a_one_click_session_after_a_reinit_with_another_visitor_id_is_restored() {
    let mut h = H::terms_accepted(1);
    h.api(start(StartKey::VisitorId));
    h.recv(ServerFrame::SessionStarted {
        sessionkey: VID.into(),
    });
    h.api(ApiCall::PresenceDisconnect);
    h.api(init(InitParams::anonymous(GROUP)));
    assert!(matches!(
        h.session(),
        Session::Running {
            keytype: KeyType::VisitorId,
            ..
        }
    ));
    let mut sdk = restore_from(&h, 0, 5, h.now);
    assert_eq!(sdk.last_rows(), &[Row::SR01]);
    assert_eq!(
        drain(&mut sdk),
        vec![Output::Connect, ev(Event::ConnectionWarning)]
    );
    let Phase::Ready(r) = &sdk.state().phase else {
        panic!("ready")
    };
    assert_eq!(
        r.session,
        Session::Running {
            key: VID.into(),
            keytype: KeyType::VisitorId,
            guests: 0,
            paused: false,
            user_state: BTreeMap::new(),
            persist: true,
        }
    );
    assert_eq!(r.visitor, InitParams::anonymous(GROUP));
}
