//! The SDK core of spec.md §5, as data: one table per input kind, each row an id, a guard
//! (the row's *state*, *input* and *guard* columns as one predicate) and an effect (its *next*
//! and *outputs* columns). Guards are checked in the order of the rows (§5, "Notation"); the
//! first that holds is the row the input goes through. Read a table beside its spec table.
//!
//! What is around the tables is §2: time never goes backwards, due timers fire first (§5.5),
//! and a refusal leaves the state as the timers left it and, for an API call, queues
//! `EventInvalidParameter` or `EventInvalidState` (§9's last column).

use super::{
    backoff, visitor_id_ok_under, MPhase, MPresence, MReady, MRequest, MSdk, MSession, MTerms,
    Rows, SdkStep, BACKGROUND_SUSPEND, DEFAULT_KEY_LENGTH, END_TIMEOUT, INIT_TIMEOUT,
    PRESENCE_BACKOFF, PRESENCE_CONNECT_TIMEOUT, RECONNECT_BACKOFF, SESSION_GRACE, START_TIMEOUT, T,
};
use cobrowse_visitor_core::{
    validate_session_key, validate_signal, ApiCall, ClientFrame, ConsentPolicy, ErrorCode, Event,
    FrameError, InitParams, Input, Lifecycle, NetworkChange, Output, Row, ServerFrame, StartKey,
    StartOptions, StartParams, TermsStatus, PROTOCOL_VERSION,
};
use std::collections::BTreeMap;

// ---- the machinery of one input ---------------------------------------------------------------

/// One input's transition under way: the next state, the outputs so far, the rows so far.
struct Cx {
    s: MSdk,
    now: u64,
    out: Vec<Output>,
    rows: Rows,
}

impl Cx {
    fn r(&mut self) -> &mut MReady {
        match &mut self.s.phase {
            MPhase::Ready(r) => r,
            // every row that calls this is guarded by `phase=ready` (§5, "Notation")
            _ => unreachable!("a phase=ready row outside phase=ready"),
        }
    }

    /// `send:frame`. §3.2: `Transmit` is emitted only while the link is up; §5.4: what
    /// must survive an outage is re-sent from the state by S-N02.
    fn send(&mut self, f: ClientFrame) {
        if self.s.link_down.is_none() {
            self.out.push(Output::Transmit(f));
        }
    }

    fn event(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }

    /// `arm:timer` — §7: every duration is at least 1 ms.
    fn arm(&mut self, t: T, ms: u64) {
        self.s.timers.insert(t, self.now.saturating_add(ms.max(1)));
    }

    fn disarm(&mut self, t: T) {
        self.s.timers.remove(&t);
    }
}

/// What a row does: refuse the input with a code (§9), or take the transition.
enum Then<I: ?Sized> {
    Refuse(ErrorCode),
    RefuseBy(fn(&I) -> ErrorCode),
    Go(fn(&mut Cx, &I)),
}

/// One row of a §5 table.
struct R<I: ?Sized + 'static> {
    row: Row,
    when: fn(&MSdk, &I) -> bool,
    then: Then<I>,
}

/// The first row whose guard holds, followed: `None` when no row of the table applies.
fn follow<I: ?Sized>(table: &[R<I>], cx: &mut Cx, i: &I) -> Option<Result<(), ErrorCode>> {
    let r = table.iter().find(|r| (r.when)(&cx.s, i))?;
    cx.rows.push(r.row);
    Some(match &r.then {
        Then::Refuse(code) => Err(*code),
        Then::RefuseBy(code) => Err(code(i)),
        Then::Go(effect) => {
            effect(cx, i);
            Ok(())
        }
    })
}

impl MSdk {
    /// `handle_input(now, input)` and the drain that follows it (§2).
    pub fn input(&self, now: u64, input: &Input) -> SdkStep {
        // §2 Time: an earlier `now` is refused and changes nothing (no timer fires either).
        if now < self.now {
            return SdkStep {
                next: self.clone(),
                result: Err(ErrorCode::TimeWentBackwards),
                out: vec![],
                rows: vec![],
            };
        }
        let mut cx = Cx {
            s: self.clone(),
            now,
            out: vec![],
            rows: vec![],
        };
        // §2 Due timers first: whatever the input, every timer due at `now` fires first, and
        // its effect stays even when the input itself is then refused.
        if fire_due(&mut cx) {
            cx.s.now = now;
        }
        let timers_left = cx.s.clone();
        let result = match input {
            Input::Timeout => Ok(()),
            Input::Api(call) => {
                let r = follow(API, &mut cx, call).unwrap_or_else(|| no_row("5.1", call));
                if let Err(code) = r {
                    // §2 Refusal / §9: a refused call also queues its Glance event
                    let call = call.name();
                    // §9's last column: the Glance event of the code
                    cx.event(match code {
                        ErrorCode::InvalidParameter | ErrorCode::GroupIdMismatch => {
                            Event::InvalidParameter { call, code }
                        }
                        ErrorCode::PresenceSendFail => Event::PresenceSendFail { call, code },
                        _ => Event::InvalidState { call, code },
                    });
                }
                r
            }
            Input::Frame(f) => follow(FRAMES, &mut cx, f).unwrap_or_else(|| no_row("5.2", f)),
            Input::Lifecycle(l) => {
                follow(LIFECYCLE, &mut cx, l).unwrap_or_else(|| no_row("5.3", l))
            }
            Input::Network(n) => follow(NETWORK, &mut cx, n).unwrap_or_else(|| no_row("5.4", n)),
        };
        match result {
            Ok(()) => cx.s.now = now,
            // §2 / INV-REFUSED-UNCHANGED: as the due timers left it
            Err(_) => cx.s = timers_left,
        }
        if let MPhase::Ready(r) = &cx.s.phase {
            // §4.1's unstated invariant (S-A40/S-A43 need a visitor id to leave `off`; S-A05
            // refuses changing it, to `null` too, while presence is on): it is what makes the
            // guard order of S-A41 / S-A42 immaterial.
            assert!(
                r.presence == MPresence::Off || r.visitor.visitor_id.is_some(),
                "model: presence {:?} without a visitor id",
                r.presence
            );
        }
        SdkStep {
            next: cx.s,
            result,
            out: cx.out,
            rows: cx.rows,
        }
    }
}

fn no_row(section: &str, input: &dyn std::fmt::Debug) -> ! {
    panic!("no row of spec.md §{section} applies to {input:?}: the model's reading has a gap")
}

/// §5.5: fires every timer whose deadline is ≤ `now`, earliest first (ties in §7's order),
/// each disarmed before it fires. Whether any fired.
fn fire_due(cx: &mut Cx) -> bool {
    let mut fired = false;
    while let Some((t, _)) =
        cx.s.timers
            .iter()
            .map(|(t, d)| (*t, *d))
            .filter(|(_, d)| *d <= cx.now)
            .min_by_key(|(t, d)| (*d, *t))
    {
        cx.disarm(t);
        fired = true;
        // "A timer whose row's state no longer holds does nothing."
        let _ = follow(TIMERS, cx, &t);
    }
    fired
}

// ---- guards: the *state* column ---------------------------------------------------------------

fn ready(s: &MSdk) -> Option<&MReady> {
    s.ready()
}

fn session(s: &MSdk) -> Option<&MSession> {
    ready(s).map(|r| &r.session)
}

fn presence(s: &MSdk) -> Option<&MPresence> {
    ready(s).map(|r| &r.presence)
}

fn terms(s: &MSdk) -> Option<MTerms> {
    match presence(s) {
        Some(MPresence::Connected(t)) => Some(*t),
        _ => None,
    }
}

fn visitor_id(s: &MSdk) -> Option<&str> {
    ready(s).and_then(|r| r.visitor.visitor_id.as_deref())
}

fn uninitialized(s: &MSdk) -> bool {
    s.phase == MPhase::Uninitialized
}

fn initializing(s: &MSdk) -> bool {
    matches!(s.phase, MPhase::Initializing(_))
}

fn terminated(s: &MSdk) -> bool {
    s.phase == MPhase::Terminated
}

fn link_up(s: &MSdk) -> bool {
    s.link_down.is_none()
}

/// The first `init_visitor`'s group id (§4.1: `Ready.visitor`'s is the first call's; a
/// re-init with another is refused by S-A02, so the latest accepted one carries it).
fn first_group(s: &MSdk) -> Option<i32> {
    match &s.phase {
        MPhase::Initializing(p) => Some(p.group_id),
        MPhase::Ready(r) => Some(r.visitor.group_id),
        _ => None,
    }
}

/// §3.3's `init_visitor` row, read from its wording rather than from the core's
/// `InitParams::validate`: `group_id` 1..=2^31−1 (an `Int32`, as the seed's, and positive);
/// `token` ≤ 1024, `name` ≤ 63, `email` ≤ 127, `phone` ≤ 31 characters; `visitor_id` null or
/// a visitor id under the active limits (§3.3a).
fn init_breaks_3_3(s: &MSdk, p: &InitParams) -> bool {
    let longer = |text: &str, most: usize| text.chars().count() > most;
    let group_ok = (1..=2_147_483_647).contains(&i64::from(p.group_id));
    let id_ok = p
        .visitor_id
        .as_deref()
        .is_none_or(|id| visitor_id_ok_under(s.cfg.limits, id));
    !group_ok
        || longer(&p.token, 1024)
        || longer(&p.name, 63)
        || longer(&p.email, 127)
        || longer(&p.phone, 31)
        || !id_ok
}

// ---- the *input* column -----------------------------------------------------------------------

fn init(c: &ApiCall) -> Option<&InitParams> {
    match c {
        ApiCall::InitVisitor(p) => Some(p),
        _ => None,
    }
}

fn start(c: &ApiCall) -> Option<&StartKey> {
    match c {
        ApiCall::StartSession(StartParams { key, .. }) => Some(key),
        _ => None,
    }
}

/// `start_session`'s options (§3.3); the defaults for another call.
fn start_options(c: &ApiCall) -> StartOptions {
    match c {
        ApiCall::StartSession(StartParams { options, .. }) => *options,
        _ => StartOptions::default(),
    }
}

/// §3.3: `max_guests` absent, or 1..=32767 (`GlanceStartParams.maxGuests` is a `short`).
fn start_options_ok(o: &StartOptions) -> bool {
    o.max_guests.is_none_or(|n| (1..=32767).contains(&n))
}

/// §8.1: the `start_session` frame carries the key and the options the service enforces.
fn start_frame(request: &MRequest, options: &StartOptions) -> ClientFrame {
    ClientFrame::StartSession {
        key: request.wire_key(),
        max_guests: options.max_guests.map(|n| n as u16),
        paused: options.paused,
    }
}

/// `presence_signal_agent`'s terms status, `Some(None)` for another (valid) signal.
fn signal(c: &ApiCall) -> Option<Option<TermsStatus>> {
    match c {
        ApiCall::PresenceSignalAgent { event, map } => validate_signal(event, map).ok(),
        _ => None,
    }
}

fn terms_signal(c: &ApiCall, status: TermsStatus) -> bool {
    signal(c) == Some(Some(status))
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

fn default_ready(visitor: InitParams) -> MReady {
    MReady {
        visitor,
        key_length: DEFAULT_KEY_LENGTH,
        loaded: false,
        lookup_pending: false,
        reattaching: false,
        session: MSession::Idle,
        presence: MPresence::Off,
        agent_start: false,
        max_attempts: None,
        presence_data: BTreeMap::new(),
    }
}

// ---- §5.1 API calls ---------------------------------------------------------------------------

/// S-A20's effect (also "as S-A20" of S-A22, S-A23).
fn start_request(cx: &mut Cx, request: MRequest, options: StartOptions) {
    // S-A20 "terms accepted or agent_start → none": the start of any session voids a
    // consent, the customer's or the policy's
    if matches!(
        cx.r().presence,
        MPresence::Connected(MTerms::Accepted(_) | MTerms::AgentStart(_))
    ) {
        cx.r().presence = MPresence::Connected(MTerms::None);
    }
    cx.send(start_frame(&request, &options));
    cx.r().session = MSession::Starting(request, options);
    cx.arm(T::SessionStart, START_TIMEOUT);
}

fn signal_frame(c: &ApiCall, request_id: Option<u64>) -> ClientFrame {
    match c {
        ApiCall::PresenceSignalAgent { event, map } => ClientFrame::PresenceSignal {
            event: event.clone(),
            map: map.clone(),
            request_id,
        },
        _ => unreachable!("a presence_signal_agent row"),
    }
}

fn answered(cx: &mut Cx) -> Option<u64> {
    match terms(&cx.s) {
        Some(
            MTerms::Shown(r) | MTerms::Displayed(r) | MTerms::Accepted(r) | MTerms::AgentStart(r),
        ) => Some(r),
        _ => None,
    }
}

/// `presence_connect(n)`'s `n` (absent: −1, forever).
fn connect_bound(c: &ApiCall) -> Option<i32> {
    match c {
        ApiCall::PresenceConnect { max_attempts } => Some(*max_attempts),
        _ => None,
    }
}

/// §4.1 `max_attempts`: none for −1, else n (S-A45 has refused every other n < 1).
fn max_attempts(c: &ApiCall) -> Option<u32> {
    connect_bound(c)
        .filter(|n| *n != -1)
        .and_then(|n| u32::try_from(n).ok())
}

/// S-A40's effect (also "then as S-A40" of S-A44).
fn connect_now(cx: &mut Cx, c: &ApiCall) {
    let visitor_id = visitor_id(&cx.s).unwrap_or_default().to_owned();
    cx.r().presence = MPresence::Connecting(0);
    cx.r().max_attempts = max_attempts(c);
    cx.send(ClientFrame::PresenceConnect { visitor_id });
    cx.arm(T::PresenceConnect, PRESENCE_CONNECT_TIMEOUT);
}

/// The state column "presence=off or not_configured" (S-A51, S-A61, S-A72).
fn presence_off_or_not_configured(s: &MSdk) -> bool {
    matches!(presence(s), Some(MPresence::Off | MPresence::NotConfigured))
}

/// §4.1's "presence wanted but not connected": awaiting_link, connecting, retry_wait,
/// blurred or suspended (S-A58, S-A71).
fn wanted_not_connected(s: &MSdk) -> bool {
    matches!(
        presence(s),
        Some(
            MPresence::AwaitingLink
                | MPresence::Connecting(_)
                | MPresence::RetryWait(_)
                | MPresence::Blurred
                | MPresence::Suspended
        )
    )
}

fn visibility(c: &ApiCall) -> Option<bool> {
    match c {
        ApiCall::PresenceSignalVisibility { visible } => Some(*visible),
        _ => None,
    }
}

fn data(c: &ApiCall) -> Option<&BTreeMap<String, String>> {
    match c {
        ApiCall::PresenceData { map } => Some(map),
        _ => None,
    }
}

/// §3.3's `presence_data` row: "entries of ≤ 255 characters, merged into the visitor's data
/// (a key set again replaces its value); at most 32 entries once merged".
fn data_breaks_3_3(s: &MSdk, m: &BTreeMap<String, String>) -> bool {
    let long = |t: &str| t.chars().count() > 255;
    let mut merged: Vec<&str> = ready(s)
        .map(|r| r.presence_data.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for k in m.keys() {
        if !merged.contains(&k.as_str()) {
            merged.push(k);
        }
    }
    m.iter().any(|(k, v)| long(k) || long(v)) || merged.len() > 32
}

static API: &[R<ApiCall>] = &[
    R {
        row: Row::SA90,
        when: |s, _| terminated(s),
        then: Then::Refuse(ErrorCode::Terminated),
    },
    R {
        row: Row::SA06,
        when: |s, c| init(c).is_some_and(|p| init_breaks_3_3(s, p)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA01,
        when: |s, c| uninitialized(s) && init(c).is_some(),
        then: Then::Go(|cx, c| {
            let p = init(c).cloned().unwrap_or_else(|| unreachable!());
            cx.send(init_frame(&p));
            cx.s.phase = MPhase::Initializing(p);
            cx.arm(T::InitLookup, INIT_TIMEOUT);
        }),
    },
    R {
        row: Row::SA02,
        when: |s, c| init(c).is_some_and(|p| first_group(s) != Some(p.group_id)),
        then: Then::Refuse(ErrorCode::GroupIdMismatch),
    },
    R {
        row: Row::SA03,
        when: |s, c| initializing(s) && init(c).is_some(),
        then: Then::Go(|cx, c| {
            let p = init(c).cloned().unwrap_or_else(|| unreachable!());
            cx.send(init_frame(&p));
            cx.s.phase = MPhase::Initializing(p);
            cx.arm(T::InitLookup, INIT_TIMEOUT);
        }),
    },
    R {
        row: Row::SA05,
        when: |s, c| {
            presence(s).is_some_and(|p| *p != MPresence::Off && *p != MPresence::NotConfigured)
                && init(c).is_some_and(|p| p.visitor_id.as_deref() != visitor_id(s))
        },
        then: Then::Refuse(ErrorCode::VisitorIdChangeWithPresence),
    },
    R {
        row: Row::SA04,
        when: |s, c| ready(s).is_some() && init(c).is_some(),
        then: Then::Go(|cx, c| {
            let p = init(c).cloned().unwrap_or_else(|| unreachable!());
            cx.send(init_frame(&p));
            let r = cx.r();
            // "presence not_configured → off (the new lookup may find it configured)"
            if r.presence == MPresence::NotConfigured {
                r.presence = MPresence::Off;
            }
            // "presence_data emptied if p.visitor_id ≠ visitor.visitor_id"
            if p.visitor_id != r.visitor.visitor_id {
                r.presence_data.clear();
            }
            r.visitor = p;
            r.lookup_pending = true;
            r.reattaching = false;
            cx.arm(T::InitLookup, INIT_TIMEOUT);
        }),
    },
    R {
        row: Row::SA91,
        when: |s, _| uninitialized(s),
        then: Then::Refuse(ErrorCode::NotInitialized),
    },
    R {
        row: Row::SA92,
        when: |s, c| {
            initializing(s)
                && matches!(
                    c,
                    ApiCall::StartSession(_)
                        | ApiCall::EndSession
                        | ApiCall::PresenceConnect { .. }
                        | ApiCall::PresenceSignalAgent { .. }
                        | ApiCall::PresenceDisconnect
                        | ApiCall::PresenceData { .. }
                        | ApiCall::PresenceSignalVisibility { .. }
                        | ApiCall::Pause { .. }
                        | ApiCall::SendUserMessage { .. }
                        | ApiCall::SetUserState { .. }
                )
        },
        then: Then::Refuse(ErrorCode::InitPending),
    },
    R {
        row: Row::SA10,
        when: |_, c| matches!(c, ApiCall::SetDefaultUi { .. }),
        then: Then::Go(|cx, c| {
            if let ApiCall::SetDefaultUi { enabled } = c {
                cx.s.default_ui = *enabled;
            }
        }),
    },
    R {
        row: Row::SA11,
        when: |_, c| matches!(c, ApiCall::PresenceSetDefaultUi { .. }),
        then: Then::Go(|cx, c| {
            if let ApiCall::PresenceSetDefaultUi { enabled } = c {
                cx.s.presence_default_ui = *enabled;
            }
        }),
    },
    // from here on: phase=ready (every other phase was answered above)
    R {
        row: Row::SA21,
        when: |s, c| start(c).is_some() && session(s) != Some(&MSession::Idle),
        then: Then::Refuse(ErrorCode::SessionActive),
    },
    R {
        row: Row::SA25,
        when: |_, c| matches!(start(c), Some(StartKey::Custom(k)) if validate_session_key(k).is_err()),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA27,
        when: |_, c| start(c).is_some() && !start_options_ok(&start_options(c)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA22,
        when: |s, c| start(c) == Some(&StartKey::VisitorId) && visitor_id(s).is_none(),
        then: Then::Go(|cx, c| {
            cx.rows.push(Row::SA20);
            start_request(cx, MRequest::Random, start_options(c));
        }),
    },
    R {
        row: Row::SA23,
        when: |s, c| {
            start(c) == Some(&StartKey::VisitorId)
                && visitor_id(s).is_some()
                && matches!(terms(s), Some(MTerms::Accepted(_)))
        },
        then: Then::Go(|cx, c| {
            let id = visitor_id(&cx.s).unwrap_or_default().to_owned();
            // the consent is for exactly one start (§4.1)
            cx.r().presence = MPresence::Connected(MTerms::None);
            cx.rows.push(Row::SA20);
            start_request(cx, MRequest::VisitorId(id), start_options(c));
        }),
    },
    R {
        row: Row::SA26,
        when: |s, c| {
            start(c) == Some(&StartKey::VisitorId)
                && visitor_id(s).is_some()
                && matches!(terms(s), Some(MTerms::AgentStart(_)))
        },
        then: Then::Go(|cx, c| {
            let id = visitor_id(&cx.s).unwrap_or_default().to_owned();
            // "terms=none": the policy's grant is for one start, as the customer's
            cx.r().presence = MPresence::Connected(MTerms::None);
            cx.rows.push(Row::SA20);
            start_request(cx, MRequest::VisitorId(id), start_options(c));
        }),
    },
    R {
        row: Row::SA24,
        when: |s, c| start(c) == Some(&StartKey::VisitorId) && visitor_id(s).is_some(),
        then: Then::Refuse(ErrorCode::ConsentRequired),
    },
    R {
        row: Row::SA20,
        when: |_, c| matches!(start(c), Some(StartKey::Random | StartKey::Custom(_))),
        then: Then::Go(|cx, c| {
            let request = match start(c) {
                Some(StartKey::Custom(k)) => MRequest::Custom(k.clone()),
                _ => MRequest::Random,
            };
            start_request(cx, request, start_options(c));
        }),
    },
    R {
        row: Row::SA30,
        when: |s, c| {
            *c == ApiCall::EndSession && matches!(session(s), Some(MSession::Running { .. }))
        },
        then: Then::Go(|cx, _| {
            if let MSession::Running { keytype, .. } = cx.r().session {
                cx.r().session = MSession::Ending(keytype);
            }
            cx.send(ClientFrame::EndSession {});
            cx.arm(T::SessionEnd, END_TIMEOUT);
        }),
    },
    R {
        row: Row::SA31,
        when: |s, c| {
            *c == ApiCall::EndSession && matches!(session(s), Some(MSession::Starting(..)))
        },
        then: Then::Go(|cx, _| {
            if let MSession::Starting(req, _) = &cx.r().session {
                cx.r().session = MSession::Ending(req.keytype());
            }
            cx.send(ClientFrame::EndSession {});
            cx.disarm(T::SessionStart);
            cx.arm(T::SessionEnd, END_TIMEOUT);
        }),
    },
    R {
        row: Row::SA32,
        when: |s, c| *c == ApiCall::EndSession && session(s) == Some(&MSession::Idle),
        then: Then::Refuse(ErrorCode::NoSession),
    },
    R {
        row: Row::SA33,
        when: |s, c| *c == ApiCall::EndSession && matches!(session(s), Some(MSession::Ending(_))),
        then: Then::Refuse(ErrorCode::SessionActive),
    },
    // S-A41 / S-A42 as written: the state column of each and the guard column of the other
    // do not cover `presence≠off` without a visitor id. That state is unreachable — §4.1
    // invariant: presence≠off ⇒ the visitor id is set (presence leaves `off` only through
    // S-A40/S-A43, which need it, and S-A05 refuses every re-init that changes it while
    // presence is on, `None` included) — so the two readings (S-A41 first: `no_visitor_id`;
    // S-A42 first: `presence_active`) never differ, and `follow` finding no row would say so.
    R {
        row: Row::SA45,
        when: |_, c| connect_bound(c).is_some_and(|n| n == 0 || n < -1),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA41,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s) == Some(&MPresence::Off)
                && visitor_id(s).is_none()
        },
        then: Then::Refuse(ErrorCode::NoVisitorId),
    },
    R {
        row: Row::SA46,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s) == Some(&MPresence::NotConfigured)
                && visitor_id(s).is_some()
        },
        then: Then::Refuse(ErrorCode::PresenceNotConfigured),
    },
    R {
        row: Row::SA42,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s).is_some_and(|p| *p != MPresence::Off)
                && visitor_id(s).is_some()
        },
        then: Then::Refuse(ErrorCode::PresenceActive),
    },
    R {
        row: Row::SA44,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s) == Some(&MPresence::Off)
                && link_up(s)
                && ready(s).is_some_and(|r| !r.loaded && !r.lookup_pending && !r.reattaching)
                && visitor_id(s).is_some()
        },
        then: Then::Go(|cx, c| {
            // "lookup=reattaching; send:init (the failed lookup tried again)"
            let visitor = cx.r().visitor.clone();
            cx.send(init_frame(&visitor));
            cx.r().reattaching = true;
            // "then as S-A40"
            cx.rows.push(Row::SA40);
            connect_now(cx, c);
        }),
    },
    R {
        row: Row::SA40,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s) == Some(&MPresence::Off)
                && visitor_id(s).is_some()
                && link_up(s)
        },
        then: Then::Go(connect_now),
    },
    R {
        row: Row::SA43,
        when: |s, c| {
            connect_bound(c).is_some()
                && presence(s) == Some(&MPresence::Off)
                && visitor_id(s).is_some()
                && !link_up(s)
        },
        then: Then::Go(|cx, c| {
            cx.r().presence = MPresence::AwaitingLink;
            cx.r().max_attempts = max_attempts(c);
        }),
    },
    R {
        row: Row::SA57,
        when: |_, c| matches!(c, ApiCall::PresenceSignalAgent { .. }) && signal(c).is_none(),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA51,
        when: |s, c| signal(c).is_some() && presence_off_or_not_configured(s),
        then: Then::Refuse(ErrorCode::PresenceNotConnected),
    },
    R {
        row: Row::SA58,
        when: |s, c| signal(c).is_some() && wanted_not_connected(s),
        then: Then::Refuse(ErrorCode::PresenceSendFail),
    },
    R {
        row: Row::SA50,
        when: |_, c| signal(c) == Some(None),
        then: Then::Go(|cx, c| cx.send(signal_frame(c, None))),
    },
    R {
        row: Row::SA52,
        when: |s, c| {
            matches!(terms(s), Some(MTerms::Shown(_))) && terms_signal(c, TermsStatus::Displayed)
        },
        then: Then::Go(|cx, c| {
            let r = answered(cx).unwrap_or_default();
            cx.r().presence = MPresence::Connected(MTerms::Displayed(r));
            cx.send(signal_frame(c, Some(r)));
        }),
    },
    R {
        row: Row::SA53,
        when: |s, c| {
            matches!(terms(s), Some(MTerms::Displayed(_))) && terms_signal(c, TermsStatus::Accepted)
        },
        then: Then::Go(|cx, c| {
            let r = answered(cx).unwrap_or_default();
            cx.r().presence = MPresence::Connected(MTerms::Accepted(r));
            cx.send(signal_frame(c, Some(r)));
        }),
    },
    R {
        row: Row::SA54,
        when: |s, c| {
            matches!(terms(s), Some(MTerms::Displayed(_))) && terms_signal(c, TermsStatus::Declined)
        },
        then: Then::Go(|cx, c| {
            let r = answered(cx).unwrap_or_default();
            cx.r().presence = MPresence::Connected(MTerms::None);
            cx.send(signal_frame(c, Some(r)));
        }),
    },
    R {
        row: Row::SA55,
        when: |_, c| terms_signal(c, TermsStatus::Displayed),
        then: Then::Refuse(ErrorCode::TermsOutOfOrder),
    },
    R {
        row: Row::SA56,
        when: |_, c| signal(c).is_some(),
        then: Then::Refuse(ErrorCode::TermsOutOfOrder),
    },
    R {
        row: Row::SA61,
        when: |s, c| *c == ApiCall::PresenceDisconnect && presence_off_or_not_configured(s),
        then: Then::Refuse(ErrorCode::PresenceNotConnected),
    },
    R {
        row: Row::SA60,
        when: |_, c| *c == ApiCall::PresenceDisconnect,
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::Off;
            cx.send(ClientFrame::PresenceDisconnect {});
            for t in T::PRESENCE {
                cx.disarm(t);
            }
            cx.event(Event::PresenceDisconnected);
        }),
    },
    R {
        row: Row::SA72,
        when: |s, c| visibility(c).is_some() && presence_off_or_not_configured(s),
        then: Then::Refuse(ErrorCode::PresenceNotConnected),
    },
    R {
        row: Row::SA71,
        when: |s, c| visibility(c).is_some() && wanted_not_connected(s),
        then: Then::Refuse(ErrorCode::PresenceSendFail),
    },
    R {
        row: Row::SA70,
        when: |s, c| visibility(c).is_some() && terms(s).is_some(),
        then: Then::Go(|cx, c| {
            let visible = visibility(c).unwrap_or_default();
            cx.send(ClientFrame::PresenceVisibility { visible });
        }),
    },
    R {
        row: Row::SA81,
        when: |s, c| data(c).is_some_and(|m| data_breaks_3_3(s, m)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA80,
        when: |_, c| data(c).is_some(),
        then: Then::Go(|cx, c| {
            let m = data(c).cloned().unwrap_or_default();
            let r = cx.r();
            for (k, v) in m {
                r.presence_data.insert(k, v);
            }
            // "send:presence_data(whole merged map) if presence=connected"
            if terms(&cx.s).is_some() {
                let map = cx.r().presence_data.clone();
                cx.send(ClientFrame::PresenceData { map });
            }
        }),
    },
    R {
        row: Row::SA101,
        when: |s, c| matches!(c, ApiCall::Pause { .. }) && !running(s),
        then: Then::Refuse(ErrorCode::SessionNotRunning),
    },
    R {
        row: Row::SA100,
        when: |_, c| matches!(c, ApiCall::Pause { .. }),
        then: Then::Go(|cx, c| {
            let p = matches!(c, ApiCall::Pause { paused: true });
            if let MSession::Running { paused, .. } = &mut cx.r().session {
                *paused = p;
            }
            cx.send(ClientFrame::Pause { paused: p });
        }),
    },
    R {
        row: Row::SA112,
        when: |_, c| message(c).is_some_and(|(n, m)| message_breaks_3_3(n, m)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA111,
        when: |s, c| message(c).is_some() && !running(s),
        then: Then::Refuse(ErrorCode::SessionNotRunning),
    },
    R {
        row: Row::SA110,
        when: |_, c| message(c).is_some(),
        then: Then::Go(|cx, c| {
            let (name, map) = message(c).unwrap_or_else(|| unreachable!());
            cx.send(ClientFrame::UserMessage {
                name: name.to_owned(),
                map: map.clone(),
            });
        }),
    },
    R {
        row: Row::SA121,
        when: |s, c| state_call(c).is_some() && !running(s),
        then: Then::Refuse(ErrorCode::SessionNotRunning),
    },
    R {
        row: Row::SA122,
        when: |s, c| state_call(c).is_some_and(|(n, v)| state_breaks_3_3(s, n, v)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::SA120,
        when: |_, c| state_call(c).is_some(),
        then: Then::Go(|cx, c| {
            let (n, v) = state_call(c).unwrap_or_else(|| unreachable!());
            let (n, v) = (n.to_owned(), v.to_owned());
            if let MSession::Running { user_state, .. } = &mut cx.r().session {
                user_state.insert(n, v);
                // "send:user_state(whole merged map)"
                let state = user_state.clone();
                cx.send(ClientFrame::UserState { state });
            }
        }),
    },
];

/// `session=running` (§4.1).
fn running(s: &MSdk) -> bool {
    matches!(session(s), Some(MSession::Running { .. }))
}

fn message(c: &ApiCall) -> Option<(&str, &BTreeMap<String, String>)> {
    match c {
        ApiCall::SendUserMessage { name, map } => Some((name, map)),
        _ => None,
    }
}

fn state_call(c: &ApiCall) -> Option<(&str, &str)> {
    match c {
        ApiCall::SetUserState { name, value } => Some((name, value)),
        _ => None,
    }
}

/// §3.3's `send_user_message` row: "`name` 1–255 characters, `map` ≤ 16 entries of ≤ 255
/// characters".
fn message_breaks_3_3(n: &str, m: &BTreeMap<String, String>) -> bool {
    let long = |t: &str| t.chars().count() > 255;
    n.is_empty() || long(n) || m.len() > 16 || m.iter().any(|(k, v)| long(k) || long(v))
}

/// §3.3's `set_user_state` row: "`name` 1–255, `value` ≤ 255 characters; at most 16 states
/// in a session once merged".
fn state_breaks_3_3(s: &MSdk, n: &str, v: &str) -> bool {
    let long = |t: &str| t.chars().count() > 255;
    let merged = match session(s) {
        Some(MSession::Running { user_state, .. }) => {
            user_state.len() + usize::from(!user_state.contains_key(n))
        }
        _ => 1,
    };
    n.is_empty() || long(n) || long(v) || merged > 16
}

// ---- §5.2 server frames -----------------------------------------------------------------------

fn frame_error(f: &ServerFrame) -> ErrorCode {
    match f.validate() {
        Err(FrameError::Version { .. }) => ErrorCode::ProtocolVersion,
        Err(FrameError::TooLarge { .. }) => ErrorCode::FrameTooLarge,
        Err(FrameError::Malformed(_)) => ErrorCode::MalformedFrame,
        _ => ErrorCode::FrameField,
    }
}

fn pending(s: &MSdk) -> bool {
    ready(s).is_some_and(|r| r.lookup_pending)
}

fn reattaching(s: &MSdk) -> bool {
    ready(s).is_some_and(|r| r.reattaching)
}

fn settings(f: &ServerFrame) -> Option<u8> {
    match f {
        ServerFrame::Settings { key_length, .. } => Some(*key_length),
        _ => None,
    }
}

/// §8.2 `settings.agent_start` (absent: false).
fn agent_start(f: &ServerFrame) -> bool {
    matches!(
        f,
        ServerFrame::Settings {
            agent_start: true,
            ..
        }
    )
}

fn init_failed(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::InitFailed { .. })
}

fn started(f: &ServerFrame) -> Option<&str> {
    match f {
        ServerFrame::SessionStarted { sessionkey } => Some(sessionkey),
        _ => None,
    }
}

fn reason(f: &ServerFrame) -> String {
    match f {
        ServerFrame::InitFailed { reason }
        | ServerFrame::SessionRefused { reason }
        | ServerFrame::SessionEnded { reason }
        | ServerFrame::PresenceConnectFailed { reason } => reason.clone(),
        _ => String::new(),
    }
}

fn agent_start_request(f: &ServerFrame) -> Option<u64> {
    match f {
        ServerFrame::PresenceStartSession { request_id } => Some(*request_id),
        _ => None,
    }
}

/// S-F21b / S-T06c's guard: presence=connecting{a} and a+1 ≥ max_attempts (a bound is set).
fn last_attempt(s: &MSdk) -> bool {
    match (presence(s), ready(s).and_then(|r| r.max_attempts)) {
        (Some(MPresence::Connecting(a)), Some(max)) => u64::from(*a) + 1 >= u64::from(max),
        _ => false,
    }
}

fn starting(s: &MSdk) -> Option<&MRequest> {
    match session(s) {
        Some(MSession::Starting(req, _)) => Some(req),
        _ => None,
    }
}

static FRAMES: &[R<ServerFrame>] = &[
    R {
        row: Row::SF98,
        when: |_, f| f.validate().is_err(),
        then: Then::RefuseBy(frame_error),
    },
    R {
        row: Row::SF01,
        when: |s, f| initializing(s) && settings(f).is_some(),
        then: Then::Go(|cx, f| {
            if let MPhase::Initializing(p) = &cx.s.phase {
                let mut r = default_ready(p.clone());
                r.key_length = settings(f).unwrap_or(DEFAULT_KEY_LENGTH);
                r.agent_start = agent_start(f);
                r.loaded = true;
                cx.s.phase = MPhase::Ready(r);
            }
            cx.disarm(T::InitLookup);
            cx.event(Event::VisitorInitialized {
                settings_loaded: true,
            });
        }),
    },
    R {
        row: Row::SF02,
        when: |s, f| initializing(s) && init_failed(f),
        then: Then::Go(|cx, _| {
            if let MPhase::Initializing(p) = &cx.s.phase {
                cx.s.phase = MPhase::Ready(default_ready(p.clone()));
            }
            cx.disarm(T::InitLookup);
            cx.event(Event::VisitorInitialized {
                settings_loaded: false,
            });
        }),
    },
    R {
        row: Row::SF03,
        when: |s, f| pending(s) && settings(f).is_some(),
        then: Then::Go(|cx, f| {
            let r = cx.r();
            r.key_length = settings(f).unwrap_or(DEFAULT_KEY_LENGTH);
            r.agent_start = agent_start(f);
            r.loaded = true;
            r.lookup_pending = false;
            cx.disarm(T::InitLookup);
            cx.event(Event::VisitorInitialized {
                settings_loaded: true,
            });
        }),
    },
    R {
        row: Row::SF04,
        when: |s, f| pending(s) && init_failed(f),
        then: Then::Go(|cx, _| {
            cx.r().lookup_pending = false;
            cx.disarm(T::InitLookup);
            cx.event(Event::VisitorInitialized {
                settings_loaded: false,
            });
        }),
    },
    R {
        row: Row::SF05,
        when: |s, f| reattaching(s) && settings(f).is_some(),
        then: Then::Go(|cx, f| {
            let r = cx.r();
            r.key_length = settings(f).unwrap_or(DEFAULT_KEY_LENGTH);
            r.agent_start = agent_start(f);
            r.loaded = true;
            r.reattaching = false;
        }),
    },
    R {
        row: Row::SF06,
        when: |s, f| reattaching(s) && init_failed(f),
        then: Then::Go(|cx, _| cx.r().reattaching = false),
    },
    R {
        row: Row::SF16,
        when: |s, f| {
            starting(s) == Some(&MRequest::Random)
                && started(f).is_some_and(|k| !k.bytes().all(|b| b.is_ascii_digit()))
        },
        then: Then::Refuse(ErrorCode::KeyNotNumeric),
    },
    R {
        row: Row::SF15,
        when: |s, f| match (starting(s), started(f)) {
            (Some(MRequest::VisitorId(x) | MRequest::Custom(x)), Some(k)) => k != x,
            _ => false,
        },
        then: Then::Refuse(ErrorCode::KeyMismatch),
    },
    R {
        row: Row::SF10,
        when: |s, f| starting(s).is_some() && started(f).is_some(),
        then: Then::Go(|cx, f| {
            let key = started(f).unwrap_or_default().to_owned();
            let keytype = starting(&cx.s)
                .map(MRequest::keytype)
                .unwrap_or_else(|| unreachable!());
            let options = match session(&cx.s) {
                Some(MSession::Starting(_, o)) => *o,
                _ => unreachable!(),
            };
            // "running{k, keytype, 0 guests, paused=options.paused, persist=options.persist}"
            cx.r().session = MSession::Running {
                key: key.clone(),
                keytype,
                guests: 0,
                paused: options.paused,
                user_state: BTreeMap::new(),
                persist: options.persist,
            };
            cx.disarm(T::SessionStart);
            cx.event(Event::ConnectedToSession {
                sessionkey: key,
                keytype,
            });
        }),
    },
    R {
        row: Row::SF11,
        when: |s, f| starting(s).is_some() && matches!(f, ServerFrame::SessionRefused { .. }),
        then: Then::Go(|cx, f| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionStart);
            cx.event(Event::StartSessionFailed { reason: reason(f) });
        }),
    },
    R {
        row: Row::SF12,
        when: |s, f| {
            matches!(session(s), Some(MSession::Running { .. }))
                && matches!(f, ServerFrame::GuestCount { .. })
        },
        then: Then::Go(|cx, f| {
            if let (ServerFrame::GuestCount { guestcount }, MSession::Running { guests, .. }) =
                (f, &mut cx.r().session)
            {
                *guests = *guestcount;
                cx.event(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
        }),
    },
    R {
        row: Row::SF13,
        when: |s, f| {
            matches!(session(s), Some(MSession::Ending(_)))
                && matches!(f, ServerFrame::GuestCount { .. })
        },
        then: Then::Go(|cx, f| {
            if let ServerFrame::GuestCount { guestcount } = f {
                cx.event(Event::GuestCountChange {
                    guestcount: *guestcount,
                });
            }
        }),
    },
    R {
        row: Row::SF14,
        when: |s, f| {
            matches!(
                session(s),
                Some(MSession::Running { .. } | MSession::Ending(_))
            ) && matches!(f, ServerFrame::SessionEnded { .. })
        },
        then: Then::Go(|cx, f| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionEnd);
            cx.disarm(T::SessionGrace);
            cx.event(Event::SessionEnded { reason: reason(f) });
        }),
    },
    R {
        row: Row::SF20,
        when: |s, f| {
            matches!(presence(s), Some(MPresence::Connecting(_)))
                && matches!(f, ServerFrame::PresenceConnected {})
        },
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::Connected(MTerms::None);
            cx.disarm(T::PresenceConnect);
            if cx.s.background {
                cx.arm(T::PresenceSuspend, BACKGROUND_SUSPEND);
            }
            // "send:presence_data(presence_data) if not empty"
            let map = cx.r().presence_data.clone();
            if !map.is_empty() {
                cx.send(ClientFrame::PresenceData { map });
            }
            cx.event(Event::PresenceConnected);
        }),
    },
    R {
        row: Row::SF21b,
        when: |s, f| last_attempt(s) && matches!(f, ServerFrame::PresenceConnectFailed { .. }),
        then: Then::Go(|cx, f| {
            cx.r().presence = MPresence::Off;
            cx.disarm(T::PresenceConnect);
            cx.event(Event::PresenceConnectFail {
                reason: reason(f),
                retry_ms: None,
            });
        }),
    },
    R {
        row: Row::SF21,
        when: |s, f| {
            matches!(presence(s), Some(MPresence::Connecting(_)))
                && matches!(f, ServerFrame::PresenceConnectFailed { .. })
        },
        then: Then::Go(|cx, f| {
            if let MPresence::Connecting(a) = cx.r().presence {
                let retry_ms = backoff(PRESENCE_BACKOFF, a);
                cx.r().presence = MPresence::RetryWait(a + 1);
                cx.disarm(T::PresenceConnect);
                cx.arm(T::PresenceRetry, retry_ms);
                cx.event(Event::PresenceConnectFail {
                    reason: reason(f),
                    retry_ms: Some(retry_ms),
                });
            }
        }),
    },
    R {
        row: Row::SF22,
        when: |s, f| terms(s).is_some() && matches!(f, ServerFrame::PresenceShowTerms { .. }),
        then: Then::Go(|cx, f| {
            if let ServerFrame::PresenceShowTerms { request_id } = f {
                cx.r().presence = MPresence::Connected(MTerms::Shown(*request_id));
                cx.event(Event::PresenceShowTerms {
                    request_id: *request_id,
                });
            }
        }),
    },
    R {
        row: Row::SF23,
        when: |s, f| terms(s).is_some() && matches!(f, ServerFrame::PresenceBlur {}),
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::Blurred;
            cx.event(Event::PresenceBlur);
        }),
    },
    R {
        row: Row::SF24,
        when: |s, f| terms(s).is_some() && matches!(f, ServerFrame::PresenceSignal { .. }),
        then: Then::Go(|cx, f| {
            if let ServerFrame::PresenceSignal { event, map } = f {
                cx.event(Event::PresenceSignal {
                    event: event.clone(),
                    map: map.clone(),
                });
            }
        }),
    },
    R {
        row: Row::SF25,
        when: |s, f| {
            terms(s).is_some()
                && agent_start_request(f).is_some()
                && s.cfg.consent_policy == ConsentPolicy::AgentMayStart
                && ready(s).is_some_and(|r| r.agent_start)
        },
        then: Then::Go(|cx, f| {
            let request_id = agent_start_request(f).unwrap_or_default();
            cx.r().presence = MPresence::Connected(MTerms::AgentStart(request_id));
            cx.event(Event::PresenceStartSession { request_id });
        }),
    },
    R {
        row: Row::SF26,
        when: |s, f| terms(s).is_some() && agent_start_request(f).is_some(),
        then: Then::Go(|cx, f| {
            // "terms=shown{r}: the terms flow, as S-F22"
            let request_id = agent_start_request(f).unwrap_or_default();
            cx.r().presence = MPresence::Connected(MTerms::Shown(request_id));
            cx.event(Event::PresenceShowTerms { request_id });
        }),
    },
    R {
        row: Row::SF27,
        when: |s, f| {
            matches!(presence(s), Some(MPresence::Connecting(_)))
                && matches!(f, ServerFrame::PresenceNotConfigured {})
        },
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::NotConfigured;
            cx.disarm(T::PresenceConnect);
            cx.event(Event::PresenceNotConfigured);
        }),
    },
    R {
        row: Row::SF30,
        when: |s, f| running(s) && matches!(f, ServerFrame::UserMessage { .. }),
        then: Then::Go(|cx, f| {
            if let ServerFrame::UserMessage { name, map } = f {
                cx.event(Event::MessageReceived {
                    name: name.clone(),
                    map: map.clone(),
                });
            }
        }),
    },
    R {
        row: Row::SF99,
        when: |_, _| true,
        then: Then::Refuse(ErrorCode::UnexpectedFrame),
    },
];

// ---- §5.3 lifecycle ---------------------------------------------------------------------------

/// Presence `connected` or `blurred` (S-L01).
fn present(s: &MSdk) -> bool {
    matches!(
        presence(s),
        Some(MPresence::Connected(_) | MPresence::Blurred)
    )
}

fn in_session(s: &MSdk) -> bool {
    session(s).is_some_and(|x| *x != MSession::Idle)
}

/// "Outside phase=ready, background/foreground only record `app`": the rows below apply in
/// every phase, and their outputs, all conditioned on presence or a session, are then none.
static LIFECYCLE: &[R<Lifecycle>] = &[
    R {
        row: Row::SL03,
        when: |s, l| match l {
            Lifecycle::Background => s.background,
            Lifecycle::Foreground => !s.background,
            Lifecycle::Terminate => false,
        },
        then: Then::Go(|_, _| {}),
    },
    R {
        row: Row::SL01,
        when: |_, l| *l == Lifecycle::Background,
        then: Then::Go(|cx, _| {
            cx.s.background = true;
            if present(&cx.s) {
                cx.arm(T::PresenceSuspend, BACKGROUND_SUSPEND);
            }
            if present(&cx.s) || in_session(&cx.s) {
                cx.send(ClientFrame::AppState { foreground: false });
            }
        }),
    },
    R {
        row: Row::SL02b,
        when: |s, l| {
            *l == Lifecycle::Foreground
                && matches!(presence(s), Some(MPresence::Suspended | MPresence::Blurred))
        },
        then: Then::Go(|cx, _| {
            cx.s.background = false;
            let up = link_up(&cx.s);
            cx.r().presence = if up {
                MPresence::Connecting(0)
            } else {
                MPresence::AwaitingLink
            };
            cx.disarm(T::PresenceSuspend);
            let visitor_id = visitor_id(&cx.s).unwrap_or_default().to_owned();
            cx.send(ClientFrame::PresenceConnect { visitor_id });
            if up {
                cx.arm(T::PresenceConnect, PRESENCE_CONNECT_TIMEOUT);
            }
            if in_session(&cx.s) {
                cx.send(ClientFrame::AppState { foreground: true });
            }
        }),
    },
    R {
        row: Row::SL02a,
        when: |_, l| *l == Lifecycle::Foreground,
        then: Then::Go(|cx, _| {
            cx.s.background = false;
            cx.disarm(T::PresenceSuspend);
            if matches!(presence(&cx.s), Some(MPresence::Connected(_))) || in_session(&cx.s) {
                cx.send(ClientFrame::AppState { foreground: true });
            }
        }),
    },
    R {
        row: Row::SL04,
        when: |s, _| ready(s).is_some(),
        then: Then::Go(|cx, _| {
            let r = ready(&cx.s).cloned().unwrap_or_else(|| unreachable!());
            match r.session {
                MSession::Idle => {}
                MSession::Starting(..) => {
                    cx.send(ClientFrame::EndSession {});
                    cx.event(Event::StartSessionFailed {
                        reason: "terminated".into(),
                    });
                }
                MSession::Running { .. } => {
                    cx.send(ClientFrame::EndSession {});
                    cx.event(Event::SessionEnded {
                        reason: "terminated".into(),
                    });
                }
                MSession::Ending(_) => cx.event(Event::SessionEnded {
                    reason: "terminated".into(),
                }),
            }
            if r.presence != MPresence::Off && r.presence != MPresence::NotConfigured {
                cx.send(ClientFrame::PresenceDisconnect {});
                cx.event(Event::PresenceDisconnected);
            }
            cx.s.phase = MPhase::Terminated;
            cx.s.timers.clear();
        }),
    },
    R {
        row: Row::SL05,
        when: |_, _| true,
        then: Then::Go(|cx, _| {
            cx.s.phase = MPhase::Terminated;
            cx.s.timers.clear();
        }),
    },
];

// ---- §5.4 network -----------------------------------------------------------------------------

/// §5.4's rows name no phase but S-N05's: they apply in every other phase (S-N02 sends
/// `init` "if initializing or ready", so it applies before `ready` too).
static NETWORK: &[R<NetworkChange>] = &[
    R {
        row: Row::SN05,
        when: |s, _| terminated(s),
        then: Then::Go(|_, _| {}),
    },
    R {
        row: Row::SN03,
        when: |s, n| (*n == NetworkChange::Lost) == s.link_down.is_some(),
        then: Then::Go(|_, _| {}),
    },
    R {
        row: Row::SN01,
        when: |_, n| *n == NetworkChange::Lost,
        then: Then::Go(|cx, _| {
            cx.s.link_down = Some(0);
            let moved = matches!(
                presence(&cx.s),
                Some(
                    MPresence::Connecting(_)
                        | MPresence::RetryWait(_)
                        | MPresence::Connected(_)
                        | MPresence::Blurred
                )
            );
            if moved {
                // a pending terms request is dropped with the connection
                cx.r().presence = MPresence::AwaitingLink;
            }
            cx.arm(T::Reconnect, backoff(RECONNECT_BACKOFF, 0));
            cx.event(Event::ConnectionWarning);
            if in_session(&cx.s) {
                cx.arm(T::SessionGrace, SESSION_GRACE);
            }
            if moved {
                for t in T::PRESENCE {
                    cx.disarm(t);
                }
            }
        }),
    },
    R {
        row: Row::SN02,
        when: |_, n| *n == NetworkChange::Restored,
        then: Then::Go(|cx, _| {
            cx.s.link_down = None;
            let reconnecting = presence(&cx.s) == Some(&MPresence::AwaitingLink);
            if let MPhase::Ready(r) = &mut cx.s.phase {
                if reconnecting {
                    r.presence = MPresence::Connecting(0);
                }
                if !r.lookup_pending {
                    r.reattaching = true;
                }
            }
            cx.disarm(T::Reconnect);
            cx.disarm(T::SessionGrace);
            cx.event(Event::ClearWarning);
            // every connection starts with `init` (§5.4, §13)
            match &cx.s.phase {
                MPhase::Initializing(p) => cx.send(init_frame(&p.clone())),
                MPhase::Ready(r) => cx.send(init_frame(&r.visitor.clone())),
                _ => {}
            }
            match session(&cx.s).cloned() {
                // "the same key request and options"
                Some(MSession::Starting(req, options)) => cx.send(start_frame(&req, &options)),
                Some(MSession::Running {
                    key,
                    paused,
                    user_state,
                    ..
                }) => {
                    cx.send(ClientFrame::ResumeSession { sessionkey: key });
                    // "then send:pause(true) if paused and send:user_state if not empty"
                    if paused {
                        cx.send(ClientFrame::Pause { paused: true });
                    }
                    if !user_state.is_empty() {
                        cx.send(ClientFrame::UserState { state: user_state });
                    }
                }
                Some(MSession::Ending(_)) => {
                    cx.send(ClientFrame::EndSession {});
                    cx.arm(T::SessionEnd, END_TIMEOUT);
                }
                Some(MSession::Idle) | None => {}
            }
            if reconnecting {
                let visitor_id = visitor_id(&cx.s).unwrap_or_default().to_owned();
                cx.send(ClientFrame::PresenceConnect { visitor_id });
                cx.arm(T::PresenceConnect, PRESENCE_CONNECT_TIMEOUT);
            }
            if cx.s.background && in_session(&cx.s) {
                cx.send(ClientFrame::AppState { foreground: false });
            }
        }),
    },
];

// ---- §5.5 timers ------------------------------------------------------------------------------

static TIMERS: &[R<T>] = &[
    R {
        row: Row::ST01,
        when: |s, t| *t == T::InitLookup && initializing(s),
        then: Then::Go(|cx, _| {
            if let MPhase::Initializing(p) = &cx.s.phase {
                cx.s.phase = MPhase::Ready(default_ready(p.clone()));
            }
            cx.event(Event::VisitorInitialized {
                settings_loaded: false,
            });
        }),
    },
    R {
        row: Row::ST02,
        when: |s, t| *t == T::InitLookup && pending(s),
        then: Then::Go(|cx, _| {
            cx.r().lookup_pending = false;
            cx.event(Event::VisitorInitialized {
                settings_loaded: false,
            });
        }),
    },
    R {
        row: Row::ST03,
        when: |s, t| *t == T::SessionStart && starting(s).is_some(),
        then: Then::Go(|cx, _| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionGrace);
            cx.send(ClientFrame::EndSession {});
            cx.event(Event::StartSessionFailed {
                reason: "timeout".into(),
            });
        }),
    },
    R {
        row: Row::ST04,
        when: |s, t| {
            *t == T::SessionEnd && matches!(session(s), Some(MSession::Ending(_))) && link_up(s)
        },
        then: Then::Go(|cx, _| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionGrace);
            cx.event(Event::SessionEnded {
                reason: "visitor_ended".into(),
            });
        }),
    },
    R {
        row: Row::ST04b,
        when: |s, t| *t == T::SessionEnd && matches!(session(s), Some(MSession::Ending(_))),
        // "arm:session_grace if not armed": a start and its end both made offline
        then: Then::Go(|cx, _| {
            if !cx.s.timers.contains_key(&T::SessionGrace) {
                cx.arm(T::SessionGrace, SESSION_GRACE);
            }
        }),
    },
    R {
        row: Row::ST05a,
        when: |s, t| *t == T::SessionGrace && starting(s).is_some() && !link_up(s),
        then: Then::Go(|cx, _| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionStart);
            cx.event(Event::StartSessionFailed {
                reason: "connection_lost".into(),
            });
        }),
    },
    R {
        row: Row::ST05b,
        when: |s, t| {
            *t == T::SessionGrace
                && matches!(
                    session(s),
                    Some(MSession::Running { .. } | MSession::Ending(_))
                )
                && !link_up(s)
        },
        then: Then::Go(|cx, _| {
            cx.r().session = MSession::Idle;
            cx.disarm(T::SessionEnd);
            cx.event(Event::SessionEnded {
                reason: "connection_lost".into(),
            });
        }),
    },
    R {
        row: Row::ST06c,
        when: |s, t| *t == T::PresenceConnect && last_attempt(s),
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::Off;
            cx.event(Event::PresenceConnectFail {
                reason: "timeout".into(),
                retry_ms: None,
            });
        }),
    },
    R {
        row: Row::ST06a,
        when: |s, t| {
            *t == T::PresenceConnect && matches!(presence(s), Some(MPresence::Connecting(_)))
        },
        then: Then::Go(|cx, _| {
            if let MPresence::Connecting(a) = cx.r().presence {
                let retry_ms = backoff(PRESENCE_BACKOFF, a);
                cx.r().presence = MPresence::RetryWait(a + 1);
                cx.arm(T::PresenceRetry, retry_ms);
                cx.event(Event::PresenceConnectFail {
                    reason: "timeout".into(),
                    retry_ms: Some(retry_ms),
                });
            }
        }),
    },
    R {
        row: Row::ST06b,
        when: |s, t| *t == T::PresenceRetry && matches!(presence(s), Some(MPresence::RetryWait(_))),
        then: Then::Go(|cx, _| {
            if let MPresence::RetryWait(a) = cx.r().presence {
                cx.r().presence = MPresence::Connecting(a);
                let visitor_id = visitor_id(&cx.s).unwrap_or_default().to_owned();
                cx.send(ClientFrame::PresenceConnect { visitor_id });
                cx.arm(T::PresenceConnect, PRESENCE_CONNECT_TIMEOUT);
            }
        }),
    },
    R {
        row: Row::ST07,
        when: |s, t| {
            *t == T::PresenceSuspend
                && s.background
                && matches!(
                    presence(s),
                    Some(
                        MPresence::Connected(
                            MTerms::None | MTerms::Shown(_) | MTerms::AgentStart(_)
                        ) | MPresence::Blurred
                    )
                )
        },
        then: Then::Go(|cx, _| {
            cx.r().presence = MPresence::Suspended;
            cx.send(ClientFrame::PresenceDisconnect {});
        }),
    },
    R {
        row: Row::ST07b,
        when: |s, t| {
            *t == T::PresenceSuspend
                && s.background
                && matches!(terms(s), Some(MTerms::Displayed(_) | MTerms::Accepted(_)))
        },
        then: Then::Go(|cx, _| cx.arm(T::PresenceSuspend, BACKGROUND_SUSPEND)),
    },
    R {
        row: Row::ST08,
        when: |s, t| *t == T::Reconnect && s.link_down.is_some(),
        then: Then::Go(|cx, _| {
            let a = cx.s.link_down.unwrap_or_default() + 1;
            cx.s.link_down = Some(a);
            cx.out.push(Output::Connect);
            cx.arm(T::Reconnect, backoff(RECONNECT_BACKOFF, a));
        }),
    },
];
