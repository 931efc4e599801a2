//! The simulated service of spec.md §13: what it believes about the one visitor (who it is,
//! its session and agent count, whether it is present), and what it tells the visitor.

use super::{SESSION_GRACE, SIM_KEY_LENGTH};
use cobrowse_visitor_conformance::transcript::AgentAction;
use cobrowse_visitor_core::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use std::collections::{BTreeMap, VecDeque};

/// The service's session: its key and agents.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MSrvSession {
    pub key: String,
    pub guests: u32,
    /// The agent count the visitor was last told (a frame that went out while online).
    pub told: u32,
    /// §13.2: "keeps the running session's `paused` flag (each `pause` frame sets it)" for
    /// the visitor's connection.
    pub paused: bool,
    /// §13.2: "and its user state (each `user_state` frame replaces it)".
    pub user_state: BTreeMap<String, String>,
    /// §13.2: "at most `max_guests` agents" (the first start's).
    pub max_guests: Option<u16>,
    /// The key its `start_session` asked for (`None`: a random key), for §13's "`start_session`
    /// again with the key it asked for".
    pub asked: Option<String>,
    /// Its `session_started` reached the visitor (§13: "a start whose `session_started` never
    /// reached the visitor").
    pub answered: bool,
    /// §13: "when the connection dies, the service keeps the session for the visitor's next
    /// connection to take up".
    pub left: bool,
}

/// What the service believes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MServer {
    pub group_id: i32,
    /// The visitor id of the latest `init`.
    pub visitor_id: Option<String>,
    pub session: Option<MSrvSession>,
    /// The visitor is present (presence connected at the service).
    pub presence: bool,
    /// The latest one-click request id (0 before the first).
    pub last_request: u64,
    /// Since when the visitor has been offline.
    pub offline_since: Option<u64>,
    /// Random keys handed out (the model's keys are `0000`, `0001`, …: the harness compares
    /// every 4-digit key as the same, the seed's digits being the simulator's).
    pub keys_issued: u64,
    /// What the current connection said in its `init`: `None` before it has sent one.
    pub announced: Option<Option<String>>,
    /// §13: the current connection sent its `init` and has not yet taken up the session its
    /// last connection left: "until that frame the session is not the visitor's".
    pub awaiting_claim: bool,
    /// (key, reason) of a session the agent ended while the visitor was offline.
    pub ended_offline: Option<(String, String)>,
    /// Frames on their way to the visitor.
    pub out: VecDeque<ServerFrame>,
    /// §13.1 `agent_start`: the group's settings allow an agent start without terms.
    pub agent_start: bool,
    /// §13.1 `presence`: presence is enabled for the group.
    pub presence_enabled: bool,
    /// §13.1 `presence_unavailable`: "every presence_connect is answered
    /// presence_connect_failed (unavailable)".
    pub presence_unavailable: bool,
    /// §13.1: "keeps the visitor's presence data (each presence_data frame replaces it; it is
    /// forgotten with the presence connection)".
    pub presence_data: BTreeMap<String, String>,
    /// The latest request to the present visitor: its id, whether it was the agent's start
    /// without terms, and whether the visitor's consent for it is in.
    pub request: Option<(u64, bool, bool)>,
    /// §13.2: "keeps every `user_message` the visitor sent" (in a session), oldest first.
    pub user_messages: Vec<(String, BTreeMap<String, String>)>,
}

impl MServer {
    pub fn new(group_id: i32) -> Self {
        MServer {
            group_id,
            visitor_id: None,
            session: None,
            presence: false,
            last_request: 0,
            offline_since: None,
            keys_issued: 0,
            announced: None,
            awaiting_claim: false,
            ended_offline: None,
            out: VecDeque::new(),
            agent_start: false,
            presence_enabled: true,
            presence_unavailable: false,
            presence_data: BTreeMap::new(),
            request: None,
            user_messages: vec![],
        }
    }

    /// Presence ends: what the service knew of it goes with it.
    fn presence_gone(&mut self) {
        self.presence = false;
        self.presence_data.clear();
        self.request = None;
    }

    /// §13.1: "a start_session with the visitor id as key is accepted only after terms
    /// accepted for its latest request or after its own presence_start_session": consumed by
    /// the start it allows (a refused start leaves the latest request as it was).
    fn consent(&mut self) -> bool {
        let granted = match self.request {
            Some((_, agent_start, consented)) => (agent_start && self.agent_start) || consented,
            None => false,
        };
        if granted {
            self.request = None;
        }
        granted
    }

    /// "What it says while the visitor is offline is lost, as on a real network."
    fn tell(&mut self, f: ServerFrame) {
        if self.offline_since.is_none() {
            self.out.push_back(f);
        }
    }

    fn random_key(&mut self) -> String {
        let n = self.keys_issued % 10u64.pow(u32::from(SIM_KEY_LENGTH));
        self.keys_issued += 1;
        format!("{n:0width$}", width = usize::from(SIM_KEY_LENGTH))
    }

    /// The session the visitor is in (§13: "until that frame the session is not the
    /// visitor's").
    pub fn visible(&self) -> Option<&MSrvSession> {
        if self.awaiting_claim {
            None
        } else {
            self.session.as_ref()
        }
    }

    /// The world delivered `f` to the visitor: a `session_started` reached it.
    pub fn delivered(&mut self, f: &ServerFrame) {
        if let (ServerFrame::SessionStarted { sessionkey }, Some(s)) = (f, &mut self.session) {
            if s.key == *sessionkey {
                s.answered = true;
            }
        }
    }

    /// A frame from the visitor.
    pub fn receive(&mut self, f: &ClientFrame) {
        // §13: "the visitor's next connection [takes the session up] with its first frame
        // after its init […]: resume_session with the session's key (a running session),
        // end_session (an ending one), or start_session again with the key it asked for, for
        // a start whose session_started never reached the visitor"; "any other first frame
        // […] the service forgets the session and its agents, without a word to the visitor"
        if self.awaiting_claim {
            self.awaiting_claim = false;
            let taken_up = match (f, &self.session) {
                (ClientFrame::ResumeSession { sessionkey }, Some(s)) => *sessionkey == s.key,
                (ClientFrame::EndSession {}, Some(_)) => true,
                (ClientFrame::StartSession { key, .. }, Some(s)) => !s.answered && *key == s.asked,
                _ => false,
            };
            match &mut self.session {
                Some(s) if taken_up => s.left = false,
                _ => self.session = None,
            }
        }
        // "every connection must start with `init`"
        if let ClientFrame::Init {
            group_id,
            visitor_id,
            ..
        } = f
        {
            // a new connection's init: "keeps the session for the visitor's next connection to
            // take up with its first frame after its init"
            if self.announced.is_none() && self.session.as_ref().is_some_and(|s| s.left) {
                self.awaiting_claim = true;
            }
            self.visitor_id = visitor_id.clone();
            self.announced = Some(visitor_id.clone());
            // "knows the configured group (any other group's lookup fails with init_failed)"
            self.tell(if *group_id == self.group_id {
                ServerFrame::Settings {
                    v: PROTOCOL_VERSION,
                    key_length: SIM_KEY_LENGTH,
                    agent_start: self.agent_start,
                }
            } else {
                ServerFrame::InitFailed {
                    reason: "unknown_group".into(),
                }
            });
            return;
        }
        let Some(announced) = self.announced.clone() else {
            // "a start_session or presence_connect before it is refused (reason
            // unknown_visitor); other frames are ignored"
            match f {
                ClientFrame::StartSession { .. } => self.tell(ServerFrame::SessionRefused {
                    reason: "unknown_visitor".into(),
                }),
                ClientFrame::PresenceConnect { .. } => {
                    self.tell(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    })
                }
                _ => {}
            }
            return;
        };
        match f {
            ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            } => {
                // a new session with the visitor id as key needs consent (§13.1)
                let one_click_unconsented = self.session.is_none()
                    && key.is_some()
                    && key.as_deref() == announced.as_deref()
                    && !self.consent();
                let reply = match (&self.session, key) {
                    // "answers a re-sent start_session with the existing session"
                    (Some(s), None) => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(s), Some(k)) if *k == s.key => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(_), Some(_)) => ServerFrame::SessionRefused {
                        reason: "session_exists".into(),
                    },
                    (None, Some(_)) if one_click_unconsented => ServerFrame::SessionRefused {
                        reason: "consent_required".into(),
                    },
                    (None, k) => {
                        let key = match k {
                            Some(k) => k.clone(),
                            None => self.random_key(),
                        };
                        self.ended_offline = None;
                        self.session = Some(MSrvSession {
                            key: key.clone(),
                            guests: 0,
                            told: 0,
                            // §13.2 "paused when it says paused, and at most max_guests agents"
                            paused: *paused,
                            user_state: BTreeMap::new(),
                            max_guests: *max_guests,
                            asked: k.clone(),
                            answered: false,
                            left: false,
                        });
                        ServerFrame::SessionStarted { sessionkey: key }
                    }
                };
                self.tell(reply);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.tell(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => {
                match &mut self.session {
                    // "what the visitor missed is told on resume_session: the agent count
                    // (always)"
                    Some(s) if s.key == *sessionkey => {
                        s.told = s.guests;
                        let guestcount = s.guests;
                        self.tell(ServerFrame::GuestCount { guestcount });
                    }
                    // "or session_ended with the agent's reason when the agent ended the
                    // session meanwhile" (else the session is gone: it expired)
                    _ => {
                        let reason = match self.ended_offline.take() {
                            Some((key, reason)) if key == *sessionkey => reason,
                            _ => "expired".into(),
                        };
                        self.tell(ServerFrame::SessionEnded { reason });
                    }
                }
            }
            ClientFrame::PresenceConnect { visitor_id } => {
                // "presence_connect for another visitor id than the connection's init fails
                // the same way"
                if announced.as_deref() == Some(visitor_id.as_str()) && !self.presence_enabled {
                    // §13.1: "a group with presence: false answers presence_connect with
                    // presence_not_configured"
                    self.tell(ServerFrame::PresenceNotConfigured {});
                } else if announced.as_deref() == Some(visitor_id.as_str())
                    && self.presence_unavailable
                {
                    self.tell(ServerFrame::PresenceConnectFailed {
                        reason: "unavailable".into(),
                    });
                } else if announced.as_deref() == Some(visitor_id.as_str()) {
                    self.presence = true;
                    self.tell(ServerFrame::PresenceConnected {});
                } else {
                    self.tell(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence_gone(),
            ClientFrame::PresenceData { map } if self.presence => {
                self.presence_data = map.clone();
            }
            ClientFrame::PresenceSignal {
                event,
                map,
                request_id,
            } if event == "terms" => {
                // the visitor's answer to its latest request
                if let Some((latest, _, consented)) = &mut self.request {
                    if *request_id == Some(*latest) {
                        match map.get("status").map(String::as_str) {
                            Some("accepted") => *consented = true,
                            Some("declined") => self.request = None,
                            _ => {}
                        }
                    }
                }
            }
            // §13.2: "refuses (counts in `refusals`, no answer) a `pause`, `user_message` or
            // `user_state` frame when it has no session" (refusals are not modelled)
            ClientFrame::Pause { .. }
            | ClientFrame::UserMessage { .. }
            | ClientFrame::UserState { .. }
                if self.session.is_none() => {}
            ClientFrame::Pause { paused } => {
                if let Some(s) = &mut self.session {
                    s.paused = *paused;
                }
            }
            ClientFrame::UserState { state } => {
                if let Some(s) = &mut self.session {
                    s.user_state = state.clone();
                }
            }
            ClientFrame::UserMessage { name, map } => {
                self.user_messages.push((name.clone(), map.clone()));
            }
            // without presence these are refused (not kept); visibility is not modelled
            ClientFrame::Init { .. }
            | ClientFrame::PresenceSignal { .. }
            | ClientFrame::AppState { .. }
            | ClientFrame::PresenceData { .. }
            | ClientFrame::PresenceVisibility { .. } => {}
        }
    }

    /// The visitor's connection dropped: presence goes with it; the next connection must
    /// identify itself again.
    pub fn lost(&mut self, now: u64) {
        self.presence_gone();
        self.announced = None;
        self.awaiting_claim = false;
        // §13.2: "a lost connection forgets both" (the pause and the user state); §13: "when
        // the connection dies, the service keeps the session for the visitor's next
        // connection to take up"
        if let Some(s) = &mut self.session {
            s.paused = false;
            s.user_state.clear();
            s.left = true;
        }
        self.offline_since.get_or_insert(now);
    }

    /// A new connection is up: "forgets a session whose visitor was offline longer than the
    /// grace".
    pub fn restored(&mut self, now: u64) {
        self.announced = None;
        self.awaiting_claim = false;
        if let Some(since) = self.offline_since.take() {
            if now.saturating_sub(since) >= SESSION_GRACE {
                self.session = None;
            }
        }
    }

    /// §13.1 `agent signal`: "only while the visitor's presence is connected".
    pub fn agent_signal(
        &mut self,
        event: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<(), &'static str> {
        if !self.presence {
            return Err("visitor_not_present");
        }
        self.tell(ServerFrame::PresenceSignal {
            event: event.to_owned(),
            map: map.clone(),
        });
        Ok(())
    }

    /// §13.2 `agent message`: "an agent in the running session sends the visitor a
    /// `user_message` […]; refused (`error` `no_session`) when the service has no session".
    pub fn agent_message(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<(), &'static str> {
        // "an agent step finds no session" until the visitor takes it up
        if self.visible().is_none() {
            return Err("no_session");
        }
        self.tell(ServerFrame::UserMessage {
            name: name.to_owned(),
            map: map.clone(),
        });
        Ok(())
    }

    /// An agent acts; `Err(code)` when it cannot now.
    pub fn agent(&mut self, a: AgentAction) -> Result<(), &'static str> {
        let online = self.offline_since.is_none();
        match a {
            AgentAction::Join | AgentAction::Leave => {
                self.visible().ok_or("no_session")?;
                let s = self.session.as_mut().ok_or("no_session")?;
                if a == AgentAction::Leave {
                    if s.guests == 0 {
                        return Err("no_agent_in_session");
                    }
                    s.guests -= 1;
                } else {
                    // §13.1: "already has that many agents is refused (session_full)"
                    if s.max_guests.is_some_and(|n| s.guests >= u32::from(n)) {
                        return Err("session_full");
                    }
                    s.guests += 1;
                }
                if online {
                    s.told = s.guests;
                    let guestcount = s.guests;
                    self.tell(ServerFrame::GuestCount { guestcount });
                }
            }
            AgentAction::StartPresenceSession => {
                // "relays one-click requests only while presence is connected"
                if !self.presence {
                    return Err("visitor_not_present");
                }
                self.last_request += 1;
                let request_id = self.last_request;
                self.request = Some((request_id, false, false));
                self.tell(ServerFrame::PresenceShowTerms { request_id });
            }
            AgentAction::StartWithoutTerms => {
                // §13.1: "only while presence is connected; the consent policy decides"
                if !self.presence {
                    return Err("visitor_not_present");
                }
                self.last_request += 1;
                let request_id = self.last_request;
                self.request = Some((request_id, true, false));
                self.tell(ServerFrame::PresenceStartSession { request_id });
            }
            AgentAction::EndSession => {
                self.visible().ok_or("no_session")?;
                let s = self.session.take().ok_or("no_session")?;
                if online {
                    self.tell(ServerFrame::SessionEnded {
                        reason: "agent_ended".into(),
                    });
                } else {
                    self.ended_offline = Some((s.key, "agent_ended".into()));
                }
            }
        }
        Ok(())
    }
}
