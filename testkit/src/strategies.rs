//! Generators. They look at the model's state and weight the inputs that move the flow
//! forward (launch when not launched, tap when the button is shown, accept when the terms are
//! shown, the expected server frame, the next deadline), so that cases reach the deep states —
//! logged in, presence connected, terms pending, a session running or ending, backgrounded,
//! offline — instead of noise the machine refuses at once. Every other input keeps a small
//! weight, so misuse and out-of-order inputs are always possible.

use super::reference::{
    CIdentity, CPhase, CSession, MCtl, MPhase, MPresence, MRequest, MSession, MTerms,
};
use super::transition::{
    CtlModel, CtlTransition, SdkModel, SdkTransition, WorldModel, WorldTransition,
};
use cobrowse_visitor_conformance::transcript::{AgentAction, Step};
use cobrowse_visitor_core::{
    ApiCall, Event, InitParams, Input, KeyType, Lifecycle, NetworkChange, ServerFrame, StartKey,
    ATTEMPTS_FOREVER,
};
use cobrowse_visitor_core::{CallName, ErrorCode, StartOptions, StartParams, UserIntent};
use proptest::prelude::*;
use proptest::strategy::Union;
use std::collections::BTreeMap;
use std::fmt::Debug;

pub const GROUP: i32 = cobrowse_visitor_core::SEED_GROUP_ID;
pub const OTHER_GROUP: i32 = 20393;
pub const VID: &str = "cust-42";
pub const OTHER_VID: &str = "cust-7";

/// A weighted choice; zero weights drop out.
pub fn weighted<T: Debug + Clone + 'static>(
    items: Vec<(u32, BoxedStrategy<T>)>,
) -> BoxedStrategy<T> {
    let items: Vec<_> = items.into_iter().filter(|(w, _)| *w > 0).collect();
    Union::new_weighted(items).boxed()
}

fn just<T: Debug + Clone + 'static>(t: T) -> BoxedStrategy<T> {
    Just(t).boxed()
}

fn pick(cond: bool, yes: u32, no: u32) -> u32 {
    if cond {
        yes
    } else {
        no
    }
}

// ---- values -----------------------------------------------------------------------------------

/// Visitor ids: mostly the customer's, sometimes another's, rarely invalid.
pub fn login_id() -> BoxedStrategy<String> {
    prop_oneof![
        12 => Just(VID.to_owned()),
        2 => Just(OTHER_VID.to_owned()),
        1 => Just("bad id".to_owned()),
        1 => Just(String::new()),
        1 => Just("x".repeat(63)),
    ]
    .boxed()
}

/// Visitor ids at each limits profile's edge (§3.3a: 50 for `web_compatible`, 62 for
/// `glance5`, 100 for `glance_core`), one under, at and over it, with and without `~` (which
/// only `web_compatible` refuses).
pub fn visitor_id_near_limits() -> BoxedStrategy<String> {
    let edge = |n: usize, tilde: bool| {
        let mut id = "v".repeat(n);
        if tilde {
            id.replace_range(0..1, "~");
        }
        id
    };
    let mut ids = vec![];
    for limit in [50usize, 62, 100] {
        for n in [limit - 1, limit, limit + 1] {
            for tilde in [false, true] {
                ids.push(edge(n, tilde));
            }
        }
    }
    ids.push("cust~42".to_owned());
    proptest::sample::select(ids).boxed()
}

pub fn init_params() -> BoxedStrategy<InitParams> {
    prop_oneof![
        2 => visitor_id_near_limits().prop_map(|id| InitParams::identified(GROUP, &id)),
        4 => Just(InitParams::anonymous(GROUP)),
        4 => Just(InitParams::identified(GROUP, VID)),
        1 => Just(InitParams::identified(GROUP, OTHER_VID)),
        1 => Just(InitParams::anonymous(OTHER_GROUP)),
        1 => Just(InitParams::anonymous(0)),
        1 => prop_oneof![Just(-1), Just(-5), Just(i32::MIN), i32::MIN..0]
            .prop_map(InitParams::anonymous),
        1 => Just(InitParams::identified(i32::MAX, VID)),
        1 => Just(InitParams::identified(GROUP, "no spaces")),
        1 => Just(InitParams { name: "n".repeat(64), ..InitParams::anonymous(GROUP) }),
        1 => Just(InitParams { phone: "5".repeat(31), token: "t".repeat(1024), ..InitParams::identified(GROUP, VID) }),
    ]
    .boxed()
}

/// Custom session keys: valid ones (never 4 digits, which the harness reads as a server's
/// random key), the edges, and invalid ones.
pub fn custom_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => Just("abc-_1".to_owned()),
        1 => Just("k".repeat(63)),
        1 => Just("k".repeat(64)),
        1 => Just(String::new()),
        1 => Just("a~b".to_owned()),
        1 => Just(VID.to_owned()),
        1 => Just(cobrowse_visitor_core::GLANCE_KEYTYPE_RANDOM.to_owned()),
        1 => "[A-Za-z_-][A-Za-z0-9_-]{0,8}",
    ]
    .boxed()
}

pub fn terms_call(status: &str) -> ApiCall {
    ApiCall::PresenceSignalAgent {
        event: "terms".into(),
        map: [("status".to_owned(), status.to_owned())].into(),
    }
}

/// Presence signals: the terms statuses, other signals, and invalid ones.
pub fn signal() -> BoxedStrategy<ApiCall> {
    prop_oneof![
        3 => Just(terms_call("displayed")),
        3 => Just(terms_call("accepted")),
        2 => Just(terms_call("declined")),
        1 => Just(terms_call("maybe")),
        1 => Just(ApiCall::PresenceSignalAgent { event: "terms".into(), map: BTreeMap::new() }),
        2 => Just(ApiCall::PresenceSignalAgent {
            event: "page".into(),
            map: [("url".to_owned(), "/cart".to_owned())].into(),
        }),
        1 => Just(ApiCall::PresenceSignalAgent { event: String::new(), map: BTreeMap::new() }),
        1 => Just(ApiCall::PresenceSignalAgent { event: "e".repeat(256), map: BTreeMap::new() }),
        1 => Just(ApiCall::PresenceSignalAgent {
            event: "big".into(),
            map: (0..17).map(|i| (i.to_string(), String::new())).collect(),
        }),
        1 => Just(ApiCall::PresenceSignalAgent {
            event: "long".into(),
            map: [("k".to_owned(), "v".repeat(256))].into(),
        }),
    ]
    .boxed()
}

pub fn start_key() -> BoxedStrategy<StartKey> {
    prop_oneof![
        3 => Just(StartKey::Random),
        3 => Just(StartKey::VisitorId),
        2 => custom_key().prop_map(StartKey::Custom),
    ]
    .boxed()
}

/// Start options (§3.3): mostly the defaults; small `max_guests`, the largest, and the refused
/// 0, −1, 32768 and `i32::MIN` (S-A27); `paused`; `persist` off in one case in four.
pub fn start_options() -> BoxedStrategy<StartOptions> {
    (
        prop_oneof![
            6 => Just(None),
            3 => (1i32..=3).prop_map(Some),
            1 => Just(Some(32767)),
            1 => prop_oneof![Just(0), Just(-1), Just(32768), Just(i32::MIN)].prop_map(Some),
        ],
        prop_oneof![3 => Just(false), 1 => Just(true)],
        prop_oneof![3 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(max_guests, paused, persist)| StartOptions {
            max_guests,
            paused,
            persist,
        })
        .boxed()
}

/// Start options an app configures its controller with (§13.1 `start_options`: valid ones;
/// the defaults in half the cases).
pub fn valid_start_options() -> BoxedStrategy<StartOptions> {
    prop_oneof![
        1 => Just(StartOptions::default()),
        1 => (
            prop_oneof![Just(None), (1i32..=2).prop_map(Some)],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(max_guests, paused, persist)| StartOptions {
                max_guests,
                paused,
                persist,
            }),
    ]
    .boxed()
}

/// `start_session` with any key and options.
pub fn start_call() -> BoxedStrategy<ApiCall> {
    (start_key(), start_options())
        .prop_map(|(key, options)| ApiCall::StartSession(StartParams { key, options }))
        .boxed()
}

/// `presence_connect(n)`: forever (`-1`, absent), small bounds, and the refused 0, −2 and
/// `i32::MIN` (S-A45).
pub fn connect_call() -> BoxedStrategy<ApiCall> {
    prop_oneof![
        6 => Just(ATTEMPTS_FOREVER),
        2 => Just(1),
        2 => Just(2),
        1 => Just(3),
        1 => Just(0),
        1 => Just(-2),
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
    ]
    .prop_map(|max_attempts| ApiCall::PresenceConnect { max_attempts })
    .boxed()
}

fn entries(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `presence_data(map)`: small maps that replace each other's keys, the empty map, 32 new
/// keys (at the merged limit or past it, depending on what is set), and oversize keys and
/// values (S-A81).
pub fn presence_data_call() -> BoxedStrategy<ApiCall> {
    prop_oneof![
        4 => Just(entries(&[("page", "cart")])),
        3 => Just(entries(&[("page", "checkout"), ("state", "paying")])),
        1 => Just(BTreeMap::new()),
        1 => Just((0..32).map(|i| (format!("k{i}"), String::new())).collect()),
        1 => Just((0..33).map(|i| (format!("k{i}"), String::new())).collect()),
        1 => Just(entries(&[("page", &"v".repeat(255))])),
        1 => Just(entries(&[("page", &"v".repeat(256))])),
        1 => Just(entries(&[(&"k".repeat(256), "x")])),
    ]
    .prop_map(|map| ApiCall::PresenceData { map })
    .boxed()
}

/// `presence_signal_visibility(visible)`.
pub fn visibility_call() -> BoxedStrategy<ApiCall> {
    any::<bool>()
        .prop_map(|visible| ApiCall::PresenceSignalVisibility { visible })
        .boxed()
}

/// `pause(paused)` (S-A100 / S-A101).
pub fn pause_call() -> BoxedStrategy<ApiCall> {
    any::<bool>()
        .prop_map(|paused| ApiCall::Pause { paused })
        .boxed()
}

/// A user message's name and map (§3.3 `send_user_message`): small ones, the limits
/// themselves, and ones past them (S-A112: an empty or 256-character name, a 17th entry, an
/// oversize key or value).
pub fn user_message() -> BoxedStrategy<(String, BTreeMap<String, String>)> {
    prop_oneof![
        6 => Just(("cart_opened".to_owned(), entries(&[("items", "3")]))),
        3 => Just(("note".to_owned(), BTreeMap::new())),
        1 => Just(("n".repeat(255), (0..16).map(|i| (format!("k{i}"), "v".repeat(255))).collect())),
        1 => Just((String::new(), BTreeMap::new())),
        1 => Just(("n".repeat(256), BTreeMap::new())),
        1 => Just(("m".to_owned(), (0..17).map(|i| (format!("k{i}"), String::new())).collect())),
        1 => Just(("m".to_owned(), entries(&[("k", &"v".repeat(256))]))),
    ]
    .boxed()
}

/// `send_user_message(name, map)` (S-A110–S-A112).
pub fn user_message_call() -> BoxedStrategy<ApiCall> {
    user_message()
        .prop_map(|(name, map)| ApiCall::SendUserMessage { name, map })
        .boxed()
}

/// A user state's name and value (§3.3 `set_user_state`): a few names that replace each
/// other's values, 16 distinct ones over a long run (so a 17th can be reached), and names or
/// values past the limits (S-A122).
pub fn user_state() -> BoxedStrategy<(String, String)> {
    prop_oneof![
        6 => prop_oneof![Just("step"), Just("tier")].prop_map(|n| (n.to_owned(), "payment".to_owned())),
        2 => (0u8..20).prop_map(|i| (format!("s{i}"), "v".to_owned())),
        1 => Just(("step".to_owned(), String::new())),
        1 => Just((String::new(), "v".to_owned())),
        1 => Just(("n".repeat(256), "v".to_owned())),
        1 => Just(("step".to_owned(), "v".repeat(256))),
    ]
    .boxed()
}

/// `set_user_state(name, value)` (S-A120–S-A122).
pub fn user_state_call() -> BoxedStrategy<ApiCall> {
    user_state()
        .prop_map(|(name, value)| ApiCall::SetUserState { name, value })
        .boxed()
}

/// An agent's `user_message` frame (S-F30), valid or not (§8.2: no key `name`).
pub fn user_message_frame() -> BoxedStrategy<ServerFrame> {
    prop_oneof![
        4 => Just(ServerFrame::UserMessage { name: "note".into(), map: entries(&[("text", "hi")]) }),
        1 => Just(ServerFrame::UserMessage { name: "note".into(), map: BTreeMap::new() }),
        1 => Just(ServerFrame::UserMessage { name: String::new(), map: BTreeMap::new() }),
        1 => Just(ServerFrame::UserMessage { name: "note".into(), map: entries(&[("name", "x")]) }),
    ]
    .boxed()
}

/// Any API call, valid or not.
pub fn api_call() -> BoxedStrategy<ApiCall> {
    prop_oneof![
        3 => init_params().prop_map(ApiCall::InitVisitor),
        1 => any::<bool>().prop_map(|enabled| ApiCall::SetDefaultUi { enabled }),
        1 => any::<bool>().prop_map(|enabled| ApiCall::PresenceSetDefaultUi { enabled }),
        3 => start_call(),
        2 => Just(ApiCall::EndSession),
        3 => connect_call(),
        3 => signal(),
        2 => Just(ApiCall::PresenceDisconnect),
        2 => presence_data_call(),
        2 => visibility_call(),
        1 => pause_call(),
        1 => user_message_call(),
        1 => user_state_call(),
    ]
    .boxed()
}

fn reason() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just("agent_ended".to_owned()),
        1 => Just("r".repeat(256)),
        1 => Just("r".repeat(257)),
    ]
    .boxed()
}

/// The agent's custom signals (`presence_signal`): valid ones, and the ones §8.2 refuses
/// (`terms`, an empty event, a map with the key `event`).
pub fn agent_signal() -> BoxedStrategy<ServerFrame> {
    prop_oneof![
        4 => Just(ServerFrame::PresenceSignal { event: "open_page".into(), map: entries(&[("page", "checkout")]) }),
        2 => Just(ServerFrame::PresenceSignal { event: "hint".into(), map: BTreeMap::new() }),
        1 => Just(ServerFrame::PresenceSignal { event: "terms".into(), map: entries(&[("status", "accepted")]) }),
        1 => Just(ServerFrame::PresenceSignal { event: String::new(), map: BTreeMap::new() }),
        1 => Just(ServerFrame::PresenceSignal { event: "x".into(), map: entries(&[("event", "y")]) }),
    ]
    .boxed()
}

/// `settings` with `agent_start` either way.
pub fn settings_frame(key_length: u8) -> BoxedStrategy<ServerFrame> {
    any::<bool>()
        .prop_map(move |agent_start| ServerFrame::Settings {
            v: 1,
            key_length,
            agent_start,
        })
        .boxed()
}

/// Any server frame, in range or not.
pub fn server_frame() -> BoxedStrategy<ServerFrame> {
    prop_oneof![
        2 => (prop_oneof![8 => Just(1u32), 1 => Just(2u32)], prop_oneof![6 => 1u8..=16, 1 => Just(0u8), 1 => Just(17u8)], any::<bool>())
            .prop_map(|(v, key_length, agent_start)| ServerFrame::Settings { v, key_length, agent_start }),
        2 => agent_signal(),
        2 => prop_oneof![1u64..4, Just(u64::MAX)].prop_map(|request_id| ServerFrame::PresenceStartSession { request_id }),
        1 => Just(ServerFrame::PresenceNotConfigured {}),
        1 => reason().prop_map(|reason| ServerFrame::InitFailed { reason }),
        2 => prop_oneof![
            3 => Just("4821".to_owned()),
            2 => Just(VID.to_owned()),
            2 => Just("abc-_1".to_owned()),
            1 => Just("12ab".to_owned()),
            1 => Just("a b".to_owned()),
            1 => Just(String::new()),
            1 => Just("7".repeat(16)),
            1 => Just("~tilde".to_owned()),
        ]
        .prop_map(|sessionkey| ServerFrame::SessionStarted { sessionkey }),
        1 => reason().prop_map(|reason| ServerFrame::SessionRefused { reason }),
        2 => prop_oneof![0u32..4, Just(u32::MAX)].prop_map(|guestcount| ServerFrame::GuestCount { guestcount }),
        2 => reason().prop_map(|reason| ServerFrame::SessionEnded { reason }),
        2 => Just(ServerFrame::PresenceConnected {}),
        1 => reason().prop_map(|reason| ServerFrame::PresenceConnectFailed { reason }),
        2 => prop_oneof![1u64..4, Just(u64::MAX)].prop_map(|request_id| ServerFrame::PresenceShowTerms { request_id }),
        1 => Just(ServerFrame::PresenceBlur {}),
        1 => user_message_frame(),
    ]
    .boxed()
}

pub fn lifecycle() -> BoxedStrategy<Lifecycle> {
    prop_oneof![
        4 => Just(Lifecycle::Background),
        4 => Just(Lifecycle::Foreground),
        1 => Just(Lifecycle::Terminate),
    ]
    .boxed()
}

pub fn network() -> BoxedStrategy<NetworkChange> {
    prop_oneof![Just(NetworkChange::Lost), Just(NetworkChange::Restored)].boxed()
}

/// A time step: the timer durations of spec.md §7, their neighbours, and anything.
pub fn advance_ms() -> BoxedStrategy<u64> {
    prop_oneof![
        2 => Just(1u64),
        2 => Just(1_000u64),
        2 => Just(5_000u64),
        2 => Just(10_000u64),
        2 => Just(15_000u64),
        2 => Just(60_000u64),
        1 => Just(61_000u64),
        3 => 0u64..70_000,
    ]
    .boxed()
}

fn deadline_delta() -> BoxedStrategy<i8> {
    prop_oneof![10 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)].boxed()
}

// ---- world scenarios --------------------------------------------------------------------------

/// The call as a contract scenario can write it: the custom key `GLANCE_KEYTYPE_RANDOM` (refused
/// by the typed API, S-A25) reads back as the random key, so a scenario step uses that.
pub fn contract_call(c: ApiCall) -> ApiCall {
    match c {
        ApiCall::StartSession(StartParams {
            key: StartKey::Custom(k),
            options,
        }) if k == cobrowse_visitor_core::GLANCE_KEYTYPE_RANDOM => {
            ApiCall::StartSession(StartParams {
                key: StartKey::Random,
                options,
            })
        }
        c => c,
    }
}

fn user(i: UserIntent) -> BoxedStrategy<WorldTransition> {
    just(WorldTransition::Step(Step::User(i)))
}

fn agent(a: AgentAction) -> BoxedStrategy<WorldTransition> {
    just(WorldTransition::Step(Step::Agent(a)))
}

fn step(s: Step) -> BoxedStrategy<WorldTransition> {
    just(WorldTransition::Step(s))
}

/// The next scenario step, weighted by the model world's state.
pub fn world_transition(m: &WorldModel) -> BoxedStrategy<WorldTransition> {
    let w = &m.world;
    let app = w.ctl.app();
    let not_launched = w.ctl.phase == CPhase::NotLaunched;
    let button = app.is_some_and(|a| a.button_shown);
    let terms = app.is_some_and(|a| a.terms_shown);
    let anonymous = app.is_some_and(|a| a.identity == CIdentity::Anonymous);
    let logged_in = app.is_some_and(|a| a.identity != CIdentity::Anonymous);
    let session = app.is_some_and(|a| a.session != CSession::None);
    let running = app.is_some_and(|a| matches!(a.session, CSession::Running(_)));
    // a session starting or ending at the core: a relaunch there is weighted up (§5.6 drops
    // a start, S-R04 keeps an end; §13's service forgets what the new process does not take up)
    let in_flight = matches!(
        w.sdk.ready().map(|r| &r.session),
        Some(MSession::Starting(..) | MSession::Ending(_))
    );
    let srv_session = w.server.visible().is_some();
    // a session only the service still has (the app exited or came back new offline)
    let srv_only = w.server.session.is_some()
        && matches!(
            w.sdk.ready().map(|r| &r.session),
            Some(MSession::Idle) | None
        );
    let guests = w.server.visible().is_some_and(|s| s.guests > 0);
    let present = w.server.presence;
    let down = !w.network_up;
    let bg = w.sdk.background;
    let deadline = w.sdk.next_deadline().is_some();
    weighted(vec![
        (pick(not_launched, 40, 1), user(UserIntent::Launch)),
        (pick(button, 10, 1), user(UserIntent::TapCobrowse)),
        (
            pick(anonymous, 10, 1),
            login_id()
                .prop_map(|visitor_id| {
                    WorldTransition::Step(Step::User(UserIntent::Login { visitor_id }))
                })
                .boxed(),
        ),
        (pick(terms, 30, 1), user(UserIntent::AcceptTerms)),
        (pick(terms, 8, 1), user(UserIntent::DeclineTerms)),
        (pick(session, 4, 1), user(UserIntent::EndSession)),
        (pick(running, 4, 1), user(UserIntent::TogglePause)),
        (
            pick(running, 3, 1),
            user_message()
                .prop_map(|(name, map)| {
                    WorldTransition::Step(Step::User(UserIntent::SendMessage { name, map }))
                })
                .boxed(),
        ),
        (
            pick(running, 3, 1),
            user_state()
                .prop_map(|(name, value)| {
                    WorldTransition::Step(Step::User(UserIntent::SetUserState { name, value }))
                })
                .boxed(),
        ),
        (
            pick(srv_session, 3, 1),
            prop_oneof![
                Just(("note".to_owned(), entries(&[("text", "hi")]))),
                Just(("ping".to_owned(), BTreeMap::new())),
            ]
            .prop_map(|(name, map)| WorldTransition::Step(Step::AgentMessage { name, map }))
            .boxed(),
        ),
        (pick(logged_in, 2, 1), user(UserIntent::Logout)),
        (1, user(UserIntent::Exit)),
        (
            pick(present, 15, 1),
            agent(AgentAction::StartPresenceSession),
        ),
        (pick(srv_session, 5, 1), agent(AgentAction::Join)),
        (pick(guests, 3, 1), agent(AgentAction::Leave)),
        (pick(srv_session, 2, 1), agent(AgentAction::EndSession)),
        // §13.2 relaunch in every state: a session running, starting or ending at the core,
        // none, or one only the service still has (the app exited offline)
        (
            pick(running || in_flight || srv_only, 3, 1),
            prop_oneof![
                3 => Just(0u64),
                3 => Just(30_000u64),
                1 => Just(59_999u64),
                1 => Just(60_000u64),
                1 => Just(600_000u64),
            ]
            .prop_map(|away_ms| WorldTransition::Step(Step::Relaunch { away_ms }))
            .boxed(),
        ),
        (pick(bg, 1, 4), step(Step::Lifecycle(Lifecycle::Background))),
        (pick(bg, 5, 1), step(Step::Lifecycle(Lifecycle::Foreground))),
        (pick(down, 1, 4), step(Step::Network(NetworkChange::Lost))),
        (
            pick(down, 6, 1),
            step(Step::Network(NetworkChange::Restored)),
        ),
        (
            pick(deadline, 10, 0),
            deadline_delta()
                .prop_map(WorldTransition::AdvanceToDeadline)
                .boxed(),
        ),
        (
            3,
            advance_ms()
                .prop_map(|ms| WorldTransition::Step(Step::AdvanceMs(ms)))
                .boxed(),
        ),
        (
            pick(m.misuse, 5, 0),
            api_call()
                .prop_map(|c| WorldTransition::Step(Step::Api(contract_call(c))))
                .boxed(),
        ),
    ])
}

// ---- raw SDK inputs ---------------------------------------------------------------------------

fn frame(f: ServerFrame) -> BoxedStrategy<SdkTransition> {
    just(SdkTransition::Input(Input::Frame(f)))
}

fn api(c: ApiCall) -> BoxedStrategy<SdkTransition> {
    just(SdkTransition::Input(Input::Api(c)))
}

/// A presence message of the app's: data, visibility, a custom signal (S-A50, S-A58, S-A70,
/// S-A71, S-A80).
fn presence_msg() -> BoxedStrategy<SdkTransition> {
    prop_oneof![
        3 => presence_data_call(),
        2 => visibility_call(),
        1 => Just(ApiCall::PresenceSignalAgent { event: "page".into(), map: entries(&[("url", "/cart")]) }),
    ]
    .prop_map(|c| SdkTransition::Input(Input::Api(c)))
    .boxed()
}

/// A key the server might send for `req` (right or wrong).
fn started_key(req: &MRequest, key_length: u8) -> BoxedStrategy<String> {
    let right = match req {
        MRequest::Random => "0123456789abcdef"
            .chars()
            .take(10)
            .cycle()
            .take(usize::from(key_length))
            .collect::<String>(),
        MRequest::VisitorId(k) | MRequest::Custom(k) => k.clone(),
    };
    prop_oneof![
        8 => Just(right),
        1 => Just("99a9".to_owned()),
        1 => Just("other-key".to_owned()),
        1 => "[0-9]{1,16}",
    ]
    .boxed()
}

/// The next raw input, weighted by the model core's state: mostly the frame the server would
/// send and the call an app would make, sometimes anything.
pub fn sdk_transition(m: &SdkModel) -> BoxedStrategy<SdkTransition> {
    let s = &m.sdk;
    let mut v: Vec<(u32, BoxedStrategy<SdkTransition>)> = vec![
        (
            4,
            api_call()
                .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                .boxed(),
        ),
        (
            4,
            server_frame()
                .prop_map(|f| SdkTransition::Input(Input::Frame(f)))
                .boxed(),
        ),
        (
            3,
            lifecycle()
                .prop_map(|l| SdkTransition::Input(Input::Lifecycle(l)))
                .boxed(),
        ),
        (
            pick(s.link_down.is_some(), 5, 3),
            network()
                .prop_map(|n| SdkTransition::Input(Input::Network(n)))
                .boxed(),
        ),
        (
            pick(s.next_deadline().is_some(), 10, 0),
            deadline_delta().prop_map(SdkTransition::ToDeadline).boxed(),
        ),
        (3, advance_ms().prop_map(SdkTransition::Advance).boxed()),
        (1, just(SdkTransition::EarlyTimeout)),
        (
            2,
            (1_000u64..120_000)
                .prop_map(SdkTransition::LateTimeout)
                .boxed(),
        ),
        (
            1,
            prop_oneof![
                api_call().prop_map(Input::Api),
                server_frame().prop_map(Input::Frame),
                Just(Input::Timeout),
                network().prop_map(Input::Network),
            ]
            .prop_map(SdkTransition::Backwards)
            .boxed(),
        ),
    ];
    match &s.phase {
        MPhase::Uninitialized => {
            v.push((
                12,
                init_params()
                    .prop_map(|p| SdkTransition::Input(Input::Api(ApiCall::InitVisitor(p))))
                    .boxed(),
            ));
        }
        MPhase::Initializing(_) => {
            v.push((
                10,
                (1u8..=16, any::<bool>())
                    .prop_map(|(key_length, agent_start)| {
                        SdkTransition::Input(Input::Frame(ServerFrame::Settings {
                            v: 1,
                            key_length,
                            agent_start,
                        }))
                    })
                    .boxed(),
            ));
            v.push((
                3,
                frame(ServerFrame::InitFailed {
                    reason: "unknown_group".into(),
                }),
            ));
        }
        MPhase::Terminated => {}
        MPhase::Ready(r) => {
            if r.lookup_pending || r.reattaching {
                v.push((
                    4,
                    settings_frame(6)
                        .prop_map(|f| SdkTransition::Input(Input::Frame(f)))
                        .boxed(),
                ));
                v.push((
                    2,
                    frame(ServerFrame::InitFailed {
                        reason: "down".into(),
                    }),
                ));
            }
            v.push((
                2,
                init_params()
                    .prop_map(|p| SdkTransition::Input(Input::Api(ApiCall::InitVisitor(p))))
                    .boxed(),
            ));
            match &r.session {
                MSession::Idle => {
                    v.push((
                        6,
                        start_call()
                            .prop_map(|call| SdkTransition::Input(Input::Api(call)))
                            .boxed(),
                    ));
                }
                MSession::Starting(req, _) => {
                    v.push((
                        10,
                        started_key(req, r.key_length)
                            .prop_map(|sessionkey| {
                                SdkTransition::Input(Input::Frame(ServerFrame::SessionStarted {
                                    sessionkey,
                                }))
                            })
                            .boxed(),
                    ));
                    v.push((
                        2,
                        frame(ServerFrame::SessionRefused {
                            reason: "busy".into(),
                        }),
                    ));
                    v.push((2, api(ApiCall::EndSession)));
                }
                MSession::Running { guests, .. } => {
                    v.push((
                        5,
                        frame(ServerFrame::GuestCount {
                            guestcount: guests.wrapping_add(1),
                        }),
                    ));
                    v.push((
                        3,
                        frame(ServerFrame::SessionEnded {
                            reason: "agent_ended".into(),
                        }),
                    ));
                    v.push((4, api(ApiCall::EndSession)));
                    v.push((
                        4,
                        pause_call()
                            .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                            .boxed(),
                    ));
                    v.push((
                        3,
                        user_message_call()
                            .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                            .boxed(),
                    ));
                    v.push((
                        5,
                        user_state_call()
                            .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                            .boxed(),
                    ));
                    v.push((
                        2,
                        user_message_frame()
                            .prop_map(|f| SdkTransition::Input(Input::Frame(f)))
                            .boxed(),
                    ));
                }
                MSession::Ending(_) => {
                    v.push((
                        6,
                        frame(ServerFrame::SessionEnded {
                            reason: "visitor_ended".into(),
                        }),
                    ));
                    v.push((1, frame(ServerFrame::GuestCount { guestcount: 0 })));
                }
            }
            match &r.presence {
                MPresence::Off => {
                    v.push((
                        pick(r.visitor.visitor_id.is_some(), 10, 2),
                        connect_call()
                            .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                            .boxed(),
                    ));
                    if r.visitor.visitor_id.is_none() {
                        v.push((
                            6,
                            api(ApiCall::InitVisitor(InitParams::identified(GROUP, VID))),
                        ));
                    }
                }
                MPresence::Connecting(_) => {
                    v.push((10, frame(ServerFrame::PresenceConnected {})));
                    v.push((
                        3,
                        frame(ServerFrame::PresenceConnectFailed {
                            reason: "busy".into(),
                        }),
                    ));
                    v.push((4, frame(ServerFrame::PresenceNotConfigured {})));
                    v.push((1, presence_msg()));
                }
                MPresence::NotConfigured => {
                    v.push((
                        4,
                        connect_call()
                            .prop_map(|c| SdkTransition::Input(Input::Api(c)))
                            .boxed(),
                    ));
                    v.push((
                        3,
                        api(ApiCall::InitVisitor(InitParams::identified(GROUP, VID))),
                    ));
                    v.push((1, presence_msg()));
                }
                MPresence::Connected(t) => {
                    v.push((
                        5,
                        (1u64..6)
                            .prop_map(|request_id| {
                                SdkTransition::Input(Input::Frame(ServerFrame::PresenceShowTerms {
                                    request_id,
                                }))
                            })
                            .boxed(),
                    ));
                    v.push((1, frame(ServerFrame::PresenceBlur {})));
                    v.push((1, api(ApiCall::PresenceDisconnect)));
                    v.push((
                        8,
                        (1u64..6)
                            .prop_map(|request_id| {
                                SdkTransition::Input(Input::Frame(
                                    ServerFrame::PresenceStartSession { request_id },
                                ))
                            })
                            .boxed(),
                    ));
                    v.push((
                        2,
                        agent_signal()
                            .prop_map(|f| SdkTransition::Input(Input::Frame(f)))
                            .boxed(),
                    ));
                    v.push((3, presence_msg()));
                    // a pending request moves on: the customer answers, the app starts
                    match t {
                        MTerms::Shown(_) => v.push((25, api(terms_call("displayed")))),
                        MTerms::Displayed(_) => {
                            v.push((20, api(terms_call("accepted"))));
                            v.push((4, api(terms_call("declined"))));
                        }
                        MTerms::Accepted(_) | MTerms::AgentStart(_) => {
                            v.push((30, api(ApiCall::start_session(StartKey::VisitorId))))
                        }
                        MTerms::None => {}
                    }
                }
                _ => {
                    v.push((1, api(ApiCall::PresenceDisconnect)));
                    v.push((1, presence_msg()));
                }
            }
        }
    }
    weighted(v)
}

// ---- raw controller inputs --------------------------------------------------------------------

/// Any SDK event, as the SDK might deliver it (or not).
pub fn event() -> BoxedStrategy<Event> {
    let keytype = prop_oneof![
        Just(KeyType::Random),
        Just(KeyType::VisitorId),
        Just(KeyType::Custom)
    ];
    let call = prop_oneof![
        Just(CallName::StartSession),
        Just(CallName::InitVisitor),
        Just(CallName::PresenceConnect)
    ];
    prop_oneof![
        3 => any::<bool>().prop_map(|settings_loaded| Event::VisitorInitialized { settings_loaded }),
        3 => (prop_oneof![Just("4821"), Just(VID), Just("abc-_1")], keytype)
            .prop_map(|(k, keytype)| Event::ConnectedToSession { sessionkey: k.to_owned(), keytype }),
        1 => (0u32..3).prop_map(|guestcount| Event::GuestCountChange { guestcount }),
        2 => Just(Event::SessionEnded { reason: "agent_ended".into() }),
        2 => Just(Event::StartSessionFailed { reason: "timeout".into() }),
        1 => call.clone().prop_map(|call| Event::InvalidParameter { call, code: ErrorCode::InvalidParameter }),
        2 => call.prop_map(|call| Event::InvalidState { call, code: ErrorCode::SessionActive }),
        2 => Just(Event::PresenceConnected),
        1 => Just(Event::PresenceConnectFail { reason: "timeout".into(), retry_ms: Some(1_000) }),
        1 => Just(Event::PresenceConnectFail { reason: "timeout".into(), retry_ms: None }),
        2 => (1u64..4).prop_map(|request_id| Event::PresenceStartSession { request_id }),
        1 => Just(Event::PresenceSignal { event: "open_page".into(), map: entries(&[("page", "checkout")]) }),
        1 => Just(Event::PresenceNotConfigured),
        1 => prop_oneof![Just(CallName::PresenceSignalAgent), Just(CallName::PresenceSignalVisibility)]
            .prop_map(|call| Event::PresenceSendFail { call, code: ErrorCode::PresenceSendFail }),
        3 => (1u64..4).prop_map(|request_id| Event::PresenceShowTerms { request_id }),
        2 => Just(Event::PresenceDisconnected),
        1 => Just(Event::PresenceBlur),
        1 => Just(Event::ConnectionWarning),
        1 => Just(Event::ClearWarning),
        1 => Just(Event::MessageReceived { name: "note".into(), map: entries(&[("text", "hi")]) }),
    ]
    .boxed()
}

fn intent(i: UserIntent) -> BoxedStrategy<CtlTransition> {
    just(CtlTransition::User(i))
}

/// The next raw controller input, weighted by the model controller's state.
pub fn ctl_transition(m: &CtlModel) -> BoxedStrategy<CtlTransition> {
    let c: &MCtl = &m.ctl;
    let app = c.app();
    let button = app.is_some_and(|a| a.button_shown);
    let terms = app.is_some_and(|a| a.terms_shown);
    let not_launched = c.phase == CPhase::NotLaunched;
    let running = app.is_some_and(|a| matches!(a.session, CSession::Running(_)));
    weighted(vec![
        (pick(not_launched, 20, 1), intent(UserIntent::Launch)),
        (pick(button, 6, 1), intent(UserIntent::TapCobrowse)),
        (
            3,
            login_id()
                .prop_map(|visitor_id| CtlTransition::User(UserIntent::Login { visitor_id }))
                .boxed(),
        ),
        (pick(terms, 6, 1), intent(UserIntent::AcceptTerms)),
        (pick(terms, 3, 1), intent(UserIntent::DeclineTerms)),
        (2, intent(UserIntent::EndSession)),
        (2, intent(UserIntent::Logout)),
        (1, intent(UserIntent::Exit)),
        (
            1,
            presence_data_call()
                .prop_map(|c| match c {
                    ApiCall::PresenceData { map } => {
                        CtlTransition::User(UserIntent::PresenceData { map })
                    }
                    _ => unreachable!("presence_data_call makes presence_data calls"),
                })
                .boxed(),
        ),
        (pick(running, 4, 1), intent(UserIntent::TogglePause)),
        (
            pick(running, 2, 1),
            user_message()
                .prop_map(|(name, map)| CtlTransition::User(UserIntent::SendMessage { name, map }))
                .boxed(),
        ),
        (
            pick(running, 3, 1),
            user_state()
                .prop_map(|(name, value)| {
                    CtlTransition::User(UserIntent::SetUserState { name, value })
                })
                .boxed(),
        ),
        (1, lifecycle().prop_map(CtlTransition::Lifecycle).boxed()),
        (20, event().prop_map(CtlTransition::Event).boxed()),
    ])
}
