//! The integration controller of spec.md §6, as data: the user-intent rows (C-U…) and the
//! SDK-event rows (C-E…), each an id, a guard and an effect, in the spec's order. Refused
//! intents change nothing and output nothing (INV-REFUSED-UNCHANGED).

use super::{
    visitor_id_ok_under, CApp, CIdentity, COrigin, CPhase, CPresence, CSession, CtlStep, MCtl, Rows,
};
use cobrowse_visitor_core::{
    ApiCall, CallName, ControllerOutput, ErrorCode, Event, InitParams, Row, StartKey, StartParams,
    TermsStatus, UiDirective, UiElement, UserIntent,
};

/// One controller input under way.
struct Cx {
    c: MCtl,
    out: Vec<ControllerOutput>,
    rows: Rows,
}

impl Cx {
    fn a(&mut self) -> &mut CApp {
        match &mut self.c.phase {
            CPhase::Running(a) => a,
            _ => unreachable!("a running-app row outside `running`"),
        }
    }

    fn call(&mut self, call: ApiCall) {
        self.out.push(ControllerOutput::Call(call));
    }

    /// §6: "every `call:start_session` of the controller carries `ControllerConfig::start`".
    fn start(&mut self, key: StartKey) {
        let options = self.c.start;
        self.call(ApiCall::StartSession(StartParams { key, options }));
    }

    fn show(&mut self, element: UiElement) {
        self.out.push(ControllerOutput::Ui(UiDirective::Show {
            element,
            key: None,
        }));
    }

    fn hide(&mut self, element: UiElement) {
        self.out
            .push(ControllerOutput::Ui(UiDirective::Hide { element }));
    }

    fn init(&mut self, visitor_id: Option<String>) {
        let mut p = InitParams::anonymous(self.c.group_id);
        p.visitor_id = visitor_id;
        self.call(ApiCall::InitVisitor(p));
    }

    /// §6 `offer`: `ui:show cobrowse_button` if initialized, button not shown, terms not
    /// shown and session=none.
    fn offer(&mut self) {
        let a = self.a();
        if a.initialized && !a.button_shown && !a.terms_shown && a.session == CSession::None {
            a.button_shown = true;
            self.show(UiElement::CobrowseButton);
        }
    }

    /// "ui:hide terms if shown, offer" (C-U50, C-E23, C-E24, C-E25).
    fn hide_terms_offer(&mut self) {
        if self.a().terms_shown {
            self.a().terms_shown = false;
            self.hide(UiElement::Terms);
        }
        self.offer();
    }
}

fn app(c: &MCtl) -> Option<&CApp> {
    c.app()
}

/// What is on screen for the session: (`session_key`, `session_indicator`) — shown from
/// C-E10 until C-E12 (or exit) for a session that connected.
fn session_ui(s: CSession) -> (bool, bool) {
    match s {
        CSession::Running(o) | CSession::Ending(o, true) => (o.shows_key(), true),
        _ => (false, false),
    }
}

enum Then<I: 'static> {
    Refuse(ErrorCode),
    Go(fn(&mut Cx, &I)),
}

struct R<I: 'static> {
    row: Row,
    when: fn(&MCtl, &I) -> bool,
    then: Then<I>,
}

fn follow<I>(table: &[R<I>], c: &MCtl, i: &I) -> CtlStep {
    let mut cx = Cx {
        c: c.clone(),
        out: vec![],
        rows: vec![],
    };
    let r = table
        .iter()
        .find(|r| (r.when)(c, i))
        .unwrap_or_else(|| unreachable!("§6 has a row for every input"));
    cx.rows.push(r.row);
    let result = match &r.then {
        Then::Refuse(code) => Err(*code),
        Then::Go(effect) => {
            effect(&mut cx, i);
            Ok(())
        }
    };
    if let CPhase::Running(a) = &cx.c.phase {
        // The invariant that makes §6's `offer` a function of the state: the button is on
        // screen exactly when the app is initialized, no terms dialog is up and there is no
        // session. Every row that hides it makes one of the three false (C-U10, C-E10, C-E22);
        // every row that makes the three true again ends in `offer` (C-E01, C-U31, C-U50,
        // C-E11, C-E12, C-E23–C-E25, C-E30).
        let should = a.initialized && !a.terms_shown && a.session == CSession::None;
        assert_eq!(
            a.button_shown, should,
            "model: the cobrowse button is shown iff offered, after {:?} on {c:?}",
            r.row
        );
    }
    CtlStep {
        next: if result.is_ok() { cx.c } else { c.clone() },
        result,
        out: cx.out,
        rows: cx.rows,
    }
}

impl MCtl {
    /// `handle_user(intent)` and the drain that follows it.
    pub fn user(&self, intent: &UserIntent) -> CtlStep {
        follow(USER, self, intent)
    }

    /// `handle_lifecycle`: C-L01, ignored by design (the SDK manages presence itself).
    pub fn lifecycle(&self) -> CtlStep {
        CtlStep {
            next: self.clone(),
            result: Ok(()),
            out: vec![],
            rows: vec![Row::CL01],
        }
    }

    /// `handle_event(event)` and the drain that follows it.
    pub fn event(&self, e: &Event) -> CtlStep {
        follow(EVENTS, self, e)
    }
}

// ---- §6 user intents --------------------------------------------------------------------------

fn running(c: &MCtl) -> bool {
    app(c).is_some()
}

static USER: &[R<UserIntent>] = &[
    R {
        row: Row::CU01,
        when: |c, i| c.phase == CPhase::NotLaunched && *i == UserIntent::Launch,
        then: Then::Go(|cx, _| {
            cx.c.phase = CPhase::Running(CApp {
                initialized: false,
                identity: CIdentity::Anonymous,
                presence: CPresence::Off,
                session: CSession::None,
                terms_shown: false,
                button_shown: false,
                presence_data: Default::default(),
                paused: false,
                user_state: Default::default(),
            });
            cx.init(None);
        }),
    },
    R {
        row: Row::CU02,
        when: |c, i| running(c) && *i == UserIntent::Launch,
        then: Then::Refuse(ErrorCode::AlreadyLaunched),
    },
    R {
        row: Row::CU03,
        when: |c, _| c.phase == CPhase::Exited,
        then: Then::Refuse(ErrorCode::Exited),
    },
    R {
        row: Row::CU04,
        when: |c, _| c.phase == CPhase::NotLaunched,
        then: Then::Refuse(ErrorCode::NotLaunched),
    },
    R {
        row: Row::CU10,
        when: |c, i| {
            *i == UserIntent::TapCobrowse
                && app(c).is_some_and(|a| a.button_shown && a.session == CSession::None)
        },
        then: Then::Go(|cx, _| {
            let a = cx.a();
            a.session = CSession::Starting(COrigin::Manual);
            a.button_shown = false;
            cx.hide(UiElement::CobrowseButton);
            cx.start(StartKey::Random);
        }),
    },
    R {
        row: Row::CU11,
        when: |_, i| *i == UserIntent::TapCobrowse,
        then: Then::Refuse(ErrorCode::ButtonNotShown),
    },
    R {
        row: Row::CU21,
        when: |c, i| matches!(i, UserIntent::Login { visitor_id } if !visitor_id_ok_under(c.limits, visitor_id)),
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::CU22,
        when: |c, i| {
            matches!(i, UserIntent::Login { .. })
                && app(c).is_some_and(|a| a.identity != CIdentity::Anonymous)
        },
        then: Then::Refuse(ErrorCode::AlreadyLoggedIn),
    },
    R {
        row: Row::CU20,
        when: |_, i| matches!(i, UserIntent::Login { .. }),
        then: Then::Go(|cx, i| {
            if let UserIntent::Login { visitor_id } = i {
                cx.a().identity = CIdentity::LoggingIn(visitor_id.clone());
                // "presence_data emptied (S-A04 empties the core's)"
                cx.a().presence_data.clear();
                cx.init(Some(visitor_id.clone()));
            }
        }),
    },
    R {
        row: Row::CU32,
        when: |c, i| {
            matches!(i, UserIntent::AcceptTerms | UserIntent::DeclineTerms)
                && app(c).is_some_and(|a| !a.terms_shown)
        },
        then: Then::Refuse(ErrorCode::NoTermsShown),
    },
    R {
        row: Row::CU30,
        when: |_, i| *i == UserIntent::AcceptTerms,
        then: Then::Go(|cx, _| {
            let a = cx.a();
            a.terms_shown = false;
            a.session = CSession::Starting(COrigin::OneClick);
            cx.hide(UiElement::Terms);
            cx.call(ApiCall::terms(TermsStatus::Accepted));
            cx.start(StartKey::VisitorId);
        }),
    },
    R {
        row: Row::CU31,
        when: |_, i| *i == UserIntent::DeclineTerms,
        then: Then::Go(|cx, _| {
            cx.a().terms_shown = false;
            cx.hide(UiElement::Terms);
            cx.call(ApiCall::terms(TermsStatus::Declined));
            cx.offer();
        }),
    },
    R {
        row: Row::CU40,
        when: |c, i| {
            *i == UserIntent::EndSession
                && app(c).is_some_and(|a| {
                    matches!(a.session, CSession::Starting(_) | CSession::Running(_))
                })
        },
        then: Then::Go(|cx, _| {
            let a = cx.a();
            a.session = match a.session {
                CSession::Starting(o) => CSession::Ending(o, false),
                CSession::Running(o) => CSession::Ending(o, true),
                s => s,
            };
            cx.call(ApiCall::EndSession);
        }),
    },
    R {
        row: Row::CU41,
        when: |_, i| *i == UserIntent::EndSession,
        then: Then::Refuse(ErrorCode::NoSession),
    },
    R {
        row: Row::CU51,
        when: |c, i| {
            *i == UserIntent::Logout && app(c).is_some_and(|a| a.identity == CIdentity::Anonymous)
        },
        then: Then::Refuse(ErrorCode::NotLoggedIn),
    },
    R {
        row: Row::CU50,
        when: |_, i| *i == UserIntent::Logout,
        then: Then::Go(|cx, _| {
            // "call:presence_disconnect if presence connecting or connected"
            if asked_presence(cx.a().presence) {
                cx.call(ApiCall::PresenceDisconnect);
            }
            let a = cx.a();
            a.presence = CPresence::Off;
            a.identity = CIdentity::Anonymous;
            a.presence_data.clear();
            cx.hide_terms_offer();
            cx.init(None);
        }),
    },
    R {
        row: Row::CU60,
        when: |_, i| *i == UserIntent::Exit,
        then: Then::Go(|cx, _| {
            let a = cx.a().clone();
            if asked_presence(a.presence) {
                cx.call(ApiCall::PresenceDisconnect);
            }
            // "ui:hide of every shown element". The spec does not order them (no invariant
            // depends on it); the model fixes one — the app's own elements, then the
            // session's: button, terms, key, paused notice, indicator (C-E12's order for the
            // session's; open question for spec.md §6).
            let (key, indicator) = session_ui(a.session);
            for (shown, element) in [
                (a.button_shown, UiElement::CobrowseButton),
                (a.terms_shown, UiElement::Terms),
                (key, UiElement::SessionKey),
                (indicator && a.paused, UiElement::SessionPaused),
                (indicator, UiElement::SessionIndicator),
            ] {
                if shown {
                    cx.hide(element);
                }
            }
            cx.c.phase = CPhase::Exited;
        }),
    },
    R {
        row: Row::CU72,
        when: |c, i| matches!(i, UserIntent::PresenceData { .. }) && has(c, |a| !a.initialized),
        then: Then::Refuse(ErrorCode::NotInitialized),
    },
    R {
        row: Row::CU71,
        when: |c, i| match i {
            UserIntent::PresenceData { map } => {
                has(c, |a| !presence_data_ok(&a.presence_data, map))
            }
            _ => false,
        },
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::CU70,
        when: |_, i| matches!(i, UserIntent::PresenceData { .. }),
        then: Then::Go(|cx, i| {
            if let UserIntent::PresenceData { map } = i {
                // "presence_data merged with m"; "the app's data, passed through"
                cx.a()
                    .presence_data
                    .extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                cx.call(ApiCall::PresenceData { map: map.clone() });
            }
        }),
    },
    R {
        row: Row::CU81,
        when: |c, i| *i == UserIntent::TogglePause && !session_running(c),
        then: Then::Refuse(ErrorCode::SessionNotRunning),
    },
    R {
        row: Row::CU80,
        when: |_, i| *i == UserIntent::TogglePause,
        then: Then::Go(|cx, _| {
            let a = cx.a();
            a.paused = !a.paused;
            let paused = a.paused;
            cx.call(ApiCall::Pause { paused });
            if paused {
                cx.show(UiElement::SessionPaused);
            } else {
                cx.hide(UiElement::SessionPaused);
            }
        }),
    },
    R {
        row: Row::CU85,
        when: |c, i| {
            matches!(
                i,
                UserIntent::SendMessage { .. } | UserIntent::SetUserState { .. }
            ) && !session_running(c)
        },
        then: Then::Refuse(ErrorCode::SessionNotRunning),
    },
    R {
        row: Row::CU84,
        when: |c, i| match i {
            UserIntent::SendMessage { name, map } => !message_ok(name, map),
            UserIntent::SetUserState { name, value } => {
                has(c, |a| !user_state_ok(&a.user_state, name, value))
            }
            _ => false,
        },
        then: Then::Refuse(ErrorCode::InvalidParameter),
    },
    R {
        row: Row::CU82,
        when: |_, i| matches!(i, UserIntent::SendMessage { .. }),
        then: Then::Go(|cx, i| {
            if let UserIntent::SendMessage { name, map } = i {
                cx.call(ApiCall::SendUserMessage {
                    name: name.clone(),
                    map: map.clone(),
                });
            }
        }),
    },
    R {
        row: Row::CU83,
        when: |_, i| matches!(i, UserIntent::SetUserState { .. }),
        then: Then::Go(|cx, i| {
            if let UserIntent::SetUserState { name, value } = i {
                cx.a().user_state.insert(name.clone(), value.clone());
                cx.call(ApiCall::SetUserState {
                    name: name.clone(),
                    value: value.clone(),
                });
            }
        }),
    },
];

/// §4.2 `session=running`.
fn session_running(c: &MCtl) -> bool {
    has(c, |a| matches!(a.session, CSession::Running(_)))
}

/// §3.3 `send_user_message`: "`name` 1–255 characters, `map` ≤ 16 entries of ≤ 255
/// characters".
fn message_ok(name: &str, map: &std::collections::BTreeMap<String, String>) -> bool {
    let short = |t: &str| t.chars().count() <= 255;
    !name.is_empty()
        && short(name)
        && map.len() <= 16
        && map.iter().all(|(k, v)| short(k) && short(v))
}

/// §3.3 `set_user_state`: "`name` 1–255, `value` ≤ 255 characters; at most 16 states in a
/// session once merged".
fn user_state_ok(
    current: &std::collections::BTreeMap<String, String>,
    name: &str,
    value: &str,
) -> bool {
    let short = |t: &str| t.chars().count() <= 255;
    let merged = current.len() + usize::from(!current.contains_key(name));
    !name.is_empty() && short(name) && short(value) && merged <= 16
}

/// §3.3 `presence_data`: "entries of ≤ 255 characters, merged …; at most 32 entries once
/// merged".
fn presence_data_ok(
    current: &std::collections::BTreeMap<String, String>,
    map: &std::collections::BTreeMap<String, String>,
) -> bool {
    let short = |t: &String| t.chars().count() <= 255;
    let mut merged = current.clone();
    merged.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    map.iter().all(|(k, v)| short(k) && short(v)) && merged.len() <= 32
}

/// C-U50 / C-U60's "presence connecting or connected".
fn asked_presence(p: CPresence) -> bool {
    matches!(p, CPresence::Connecting | CPresence::Connected)
}

// ---- §6 SDK events ----------------------------------------------------------------------------

fn has<F: Fn(&CApp) -> bool>(c: &MCtl, f: F) -> bool {
    app(c).is_some_and(f)
}

/// C-E02's effect (also after C-E01 for a login made before the first initialization).
fn logged_in(cx: &mut Cx) {
    let a = cx.a();
    if let CIdentity::LoggingIn(id) = &a.identity {
        a.identity = CIdentity::LoggedIn(id.clone());
        // "presence=connecting if off or not_configured (the re-init looked again, S-A04)"
        if matches!(a.presence, CPresence::Off | CPresence::NotConfigured) {
            a.presence = CPresence::Connecting;
            cx.call(ApiCall::presence_connect());
            if cx.c.custom_ui {
                cx.call(ApiCall::PresenceSetDefaultUi { enabled: false });
            }
        }
    }
}

static EVENTS: &[R<Event>] = &[
    R {
        row: Row::CE99,
        when: |c, _| !running(c),
        then: Then::Go(|_, _| {}),
    },
    R {
        row: Row::CE01,
        when: |c, e| matches!(e, Event::VisitorInitialized { .. }) && has(c, |a| !a.initialized),
        then: Then::Go(|cx, _| {
            cx.a().initialized = true;
            if cx.c.custom_ui {
                cx.call(ApiCall::SetDefaultUi { enabled: false });
            }
            cx.offer();
            if matches!(cx.a().identity, CIdentity::LoggingIn(_)) {
                cx.rows.push(Row::CE02);
                logged_in(cx);
            }
        }),
    },
    R {
        row: Row::CE02,
        when: |c, e| {
            matches!(e, Event::VisitorInitialized { .. })
                && has(c, |a| matches!(a.identity, CIdentity::LoggingIn(_)))
        },
        then: Then::Go(|cx, _| logged_in(cx)),
    },
    R {
        row: Row::CE10,
        when: |_, e| matches!(e, Event::ConnectedToSession { .. }),
        then: Then::Go(|cx, e| {
            if let Event::ConnectedToSession {
                sessionkey,
                keytype,
            } = e
            {
                let start_paused = cx.c.start.paused;
                let a = cx.a();
                let origin = match a.session {
                    CSession::Starting(o) => o,
                    _ => COrigin::External(*keytype),
                };
                a.session = CSession::Running(origin);
                // "paused=true if the controller started it with start.paused"
                let own = !matches!(origin, COrigin::External(_));
                let paused_now = own && start_paused && !a.paused;
                if paused_now {
                    a.paused = true;
                }
                if a.button_shown {
                    a.button_shown = false;
                    cx.hide(UiElement::CobrowseButton);
                }
                cx.show(UiElement::SessionIndicator);
                // "ui:show session_paused if it became paused"
                if paused_now {
                    cx.show(UiElement::SessionPaused);
                }
                if origin.shows_key() {
                    cx.out.push(ControllerOutput::Ui(UiDirective::Show {
                        element: UiElement::SessionKey,
                        key: Some(sessionkey.clone()),
                    }));
                }
            }
        }),
    },
    R {
        row: Row::CE11,
        when: |_, e| matches!(e, Event::StartSessionFailed { .. }),
        then: Then::Go(|cx, _| {
            cx.a().session = CSession::None;
            cx.offer();
        }),
    },
    R {
        row: Row::CE12,
        when: |_, e| matches!(e, Event::SessionEnded { .. }),
        then: Then::Go(|cx, _| {
            let (key, indicator) = session_ui(cx.a().session);
            if key {
                cx.hide(UiElement::SessionKey);
            }
            // "ui:hide session_paused (if paused)"
            if indicator && cx.a().paused {
                cx.hide(UiElement::SessionPaused);
            }
            if indicator {
                cx.hide(UiElement::SessionIndicator);
            }
            // "session=none; paused=false; user_state emptied"
            let a = cx.a();
            a.session = CSession::None;
            a.paused = false;
            a.user_state.clear();
            cx.offer();
        }),
    },
    R {
        row: Row::CE20,
        when: |_, e| *e == Event::PresenceConnected,
        then: Then::Go(|cx, _| cx.a().presence = CPresence::Connected),
    },
    R {
        row: Row::CE22,
        when: |c, e| {
            matches!(e, Event::PresenceShowTerms { .. })
                && has(c, |a| {
                    a.presence != CPresence::Off && a.session == CSession::None
                })
        },
        then: Then::Go(|cx, _| {
            let a = cx.a();
            if !a.terms_shown {
                a.terms_shown = true;
                if a.button_shown {
                    a.button_shown = false;
                    cx.hide(UiElement::CobrowseButton);
                }
                cx.show(UiElement::Terms);
            }
            // Reading (spec silent on the grouping): "if not already shown" governs the UI
            // directives only; every request shown is signalled `displayed`. A request that
            // replaces one already on screen is on screen too, and without `displayed` its
            // `accepted` would be refused (S-A56), breaking INV-CONTROLLER-CALLS-ACCEPTED and
            // INV-TERMS-ORDER ("after EventPresenceShowTerms, displayed precedes accepted").
            cx.call(ApiCall::terms(TermsStatus::Displayed));
        }),
    },
    R {
        row: Row::CE23,
        when: |_, e| *e == Event::PresenceDisconnected,
        then: Then::Go(|cx, _| {
            cx.a().presence = CPresence::Off;
            cx.hide_terms_offer();
        }),
    },
    R {
        row: Row::CE24,
        when: |_, e| *e == Event::PresenceBlur,
        then: Then::Go(|cx, _| cx.hide_terms_offer()),
    },
    R {
        row: Row::CE25,
        when: |_, e| *e == Event::ConnectionWarning,
        then: Then::Go(|cx, _| cx.hide_terms_offer()),
    },
    R {
        row: Row::CE26,
        when: |c, e| {
            matches!(e, Event::PresenceStartSession { .. })
                && has(c, |a| {
                    a.presence != CPresence::Off && a.session == CSession::None
                })
        },
        then: Then::Go(|cx, _| {
            // "ui:hide terms if shown (the agent's start replaces the request)"
            if cx.a().terms_shown {
                cx.a().terms_shown = false;
                cx.hide(UiElement::Terms);
            }
            let a = cx.a();
            a.session = CSession::Starting(COrigin::OneClick);
            if a.button_shown {
                a.button_shown = false;
                cx.hide(UiElement::CobrowseButton);
            }
            cx.start(StartKey::VisitorId);
        }),
    },
    R {
        row: Row::CE27,
        when: |_, e| matches!(e, Event::PresenceSignal { .. }),
        then: Then::Go(|cx, e| {
            if let Event::PresenceSignal { event, map } = e {
                cx.out.push(ControllerOutput::AgentSignal {
                    event: event.clone(),
                    map: map.clone(),
                });
            }
        }),
    },
    R {
        row: Row::CE31,
        when: |_, e| matches!(e, Event::MessageReceived { .. }),
        then: Then::Go(|cx, e| {
            if let Event::MessageReceived { name, map } = e {
                cx.out.push(ControllerOutput::AgentMessage {
                    name: name.clone(),
                    map: map.clone(),
                });
            }
        }),
    },
    R {
        row: Row::CE28,
        when: |_, e| *e == Event::PresenceNotConfigured,
        then: Then::Go(|cx, _| cx.a().presence = CPresence::NotConfigured),
    },
    R {
        row: Row::CE29,
        when: |_, e| matches!(e, Event::PresenceConnectFail { retry_ms: None, .. }),
        then: Then::Go(|cx, _| cx.a().presence = CPresence::Off),
    },
    R {
        row: Row::CE30,
        when: |c, e| {
            matches!(
                e,
                Event::InvalidState {
                    call: CallName::StartSession,
                    ..
                } | Event::InvalidParameter {
                    call: CallName::StartSession,
                    ..
                }
            ) && has(c, |a| {
                matches!(
                    a.session,
                    CSession::Starting(COrigin::Manual | COrigin::OneClick)
                )
            })
        },
        then: Then::Go(|cx, _| {
            cx.a().session = CSession::None;
            cx.offer();
        }),
    },
    R {
        row: Row::CE40,
        when: |_, _| true,
        then: Then::Go(|_, _| {}),
    },
];
