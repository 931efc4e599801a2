//! §5.6 and §6.1: what an app restart keeps, as the rows say. [`MSdk::restored`] is
//! `Sdk::restore` of the core's own snapshot (S-R01–S-R04); [`MCtl::restored`] is
//! `Controller::restore` (C-R01) next to it.

use super::{
    backoff, CApp, CIdentity, CPhase, CPresence, CSession, MCtl, MPhase, MPresence, MReady, MSdk,
    MSession, RECONNECT_BACKOFF, SESSION_GRACE, T,
};
use cobrowse_visitor_core::{
    ApiCall, ControllerOutput, Event, Output, UiDirective, UiElement, RESTART_EXPIRED,
};

impl MSdk {
    /// `Sdk::snapshot` exists once `ready` (§5.6).
    pub fn has_snapshot(&self) -> bool {
        self.ready().is_some()
    }

    /// The core of the next launch from this core's snapshot, `away` ms after it was taken,
    /// at `now`, with its outputs (S-R01–S-R04); `None` when there is no snapshot or `group_id`
    /// is not the snapshot's (INV-RESTORE-GROUP: refused whole).
    pub fn restored(&self, group_id: i32, now: u64, away: u64) -> Option<(MSdk, Vec<Output>)> {
        let r = self.ready()?;
        if r.visitor.group_id != group_id {
            return None;
        }
        let mut timers = std::collections::BTreeMap::new();
        // "connect; arm:reconnect(backoff(0))"
        let mut out = vec![Output::Connect];
        timers.insert(
            T::Reconnect,
            now.saturating_add(backoff(RECONNECT_BACKOFF, 0).max(1)),
        );
        let session = match &r.session {
            // S-R01: "a running session (started with persist), away < session_grace"
            MSession::Running {
                key,
                keytype,
                paused,
                user_state,
                persist: true,
                ..
            } if away < SESSION_GRACE => {
                timers.insert(T::SessionGrace, now.saturating_add(SESSION_GRACE - away));
                MSession::Running {
                    key: key.clone(),
                    keytype: *keytype,
                    guests: 0,
                    paused: *paused,
                    user_state: user_state.clone(),
                    persist: true,
                }
            }
            // S-R04: "or a running one started without persist, kept as ending"
            MSession::Running {
                keytype,
                persist: false,
                ..
            } if away < SESSION_GRACE => {
                timers.insert(T::SessionGrace, now.saturating_add(SESSION_GRACE - away));
                MSession::Ending(*keytype)
            }
            // S-R04: "an ending session, away < session_grace": session=ending{keytype}
            MSession::Ending { .. } if away < SESSION_GRACE => {
                timers.insert(T::SessionGrace, now.saturating_add(SESSION_GRACE - away));
                r.session.clone()
            }
            // S-R02: "a running or ending session, away ≥ session_grace"
            MSession::Running { .. } | MSession::Ending { .. } => {
                out.push(Output::Event(Event::SessionEnded {
                    reason: RESTART_EXPIRED.into(),
                }));
                MSession::Idle
            }
            // S-R03 (a starting session is not kept)
            _ => MSession::Idle,
        };
        out.push(Output::Event(Event::ConnectionWarning));
        let next = MSdk {
            phase: MPhase::Ready(MReady {
                visitor: r.visitor.clone(),
                key_length: r.key_length,
                loaded: r.loaded,
                lookup_pending: false,
                reattaching: false,
                session,
                presence: MPresence::Off,
                agent_start: r.agent_start,
                max_attempts: None,
                presence_data: r.presence_data.clone(),
            }),
            link_down: Some(0),
            background: false,
            default_ui: self.default_ui,
            presence_default_ui: self.presence_default_ui,
            timers,
            now,
            cfg: self.cfg,
        };
        Some((next, out))
    }
}

impl MCtl {
    /// `Controller::snapshot` exists while running (§6.1).
    pub fn has_snapshot(&self) -> bool {
        self.app().is_some()
    }

    /// C-R01: the controller of the next launch, next to the restored core `sdk` (whose
    /// running session's key a key-showing origin shows again), with its outputs.
    pub fn restored(&self, sdk: &MSdk) -> Option<(MCtl, Vec<ControllerOutput>)> {
        let mut a: CApp = self.app()?.clone();
        let mut out = vec![];
        // "terms hidden, button hidden, a starting session dropped (session=none,
        // paused=false; the core keeps none)" (and the user state with it, §4.2); "an ending
        // session kept as ending{origin, connected=false} when the restored core's session is
        // ending (S-R04 […] paused=false […]), else dropped as a starting one"
        a.terms_shown = false;
        a.button_shown = false;
        let core_ending = sdk
            .ready()
            .is_some_and(|r| matches!(r.session, MSession::Ending(_)));
        match a.session {
            CSession::Running(_) => {}
            CSession::Ending(origin, _) if core_ending => {
                a.session = CSession::Ending(origin, false);
                a.paused = false;
                a.user_state.clear();
            }
            CSession::None | CSession::Starting(_) | CSession::Ending(..) => {
                a.session = CSession::None;
                a.paused = false;
                a.user_state.clear();
            }
        }
        // "a running session the restored core has as ending (started without persist)
        // becomes ending(origin, not connected), paused=false, ... nothing shown"
        if let (CSession::Running(origin), Some(MSession::Ending(_))) =
            (a.session, sdk.ready().map(|r| &r.session))
        {
            a.session = CSession::Ending(origin, false);
            a.paused = false;
            a.user_state.clear();
        }
        if let CSession::Running(origin) = a.session {
            out.push(ControllerOutput::Ui(UiDirective::Show {
                element: UiElement::SessionIndicator,
                key: None,
            }));
            if a.paused {
                out.push(ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::SessionPaused,
                    key: None,
                }));
            }
            let key = sdk.ready().and_then(|r| match &r.session {
                MSession::Running { key, .. } => Some(key.clone()),
                _ => None,
            });
            if let (true, Some(key)) = (origin.shows_key(), key) {
                out.push(ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::SessionKey,
                    key: Some(key),
                }));
            }
        }
        // "offer"
        if a.initialized && !a.terms_shown && a.session == CSession::None {
            a.button_shown = true;
            out.push(ControllerOutput::Ui(UiDirective::Show {
                element: UiElement::CobrowseButton,
                key: None,
            }));
        }
        // "identity logging_in(id) → logged_in(id); presence=connecting if logged in, else
        // off"; "logged in: call:presence_connect, call:presence_set_default_ui(false) if
        // custom_ui"
        match a.identity.clone() {
            CIdentity::LoggingIn(id) | CIdentity::LoggedIn(id) => {
                a.identity = CIdentity::LoggedIn(id);
                a.presence = CPresence::Connecting;
                out.push(ControllerOutput::Call(ApiCall::presence_connect()));
                if self.custom_ui {
                    out.push(ControllerOutput::Call(ApiCall::PresenceSetDefaultUi {
                        enabled: false,
                    }));
                }
            }
            CIdentity::Anonymous => a.presence = CPresence::Off,
        }
        let next = MCtl {
            phase: CPhase::Running(a),
            ..self.clone()
        };
        Some((next, out))
    }
}
