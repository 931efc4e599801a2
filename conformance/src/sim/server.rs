//! The simulated Glance service for one visitor: settings lookup, sessions and guests,
//! presence and one-click requests (spec.md §13).

use crate::transcript::AgentAction;
use cobrowse_visitor_core::{ClientFrame, Instant, ServerFrame, PROTOCOL_VERSION, TERMS_EVENT};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Digits in the simulated group's random keys.
pub const SIM_KEY_LENGTH: u8 = 4;

/// A small deterministic generator (SplitMix64) for the server's random keys.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Debug)]
struct ServerSession {
    key: String,
    guests: u32,
    /// The guest count the visitor was last told (a frame that was delivered).
    guests_sent: u32,
    /// Paused by the visitor's latest `pause` frame on this connection (§13.2).
    paused: bool,
    /// The user state of the latest `user_state` frame (§13.2).
    user_state: BTreeMap<String, String>,
    /// At most this many agents may join (the start's `max_guests`, §13.2).
    max_guests: Option<u16>,
    /// The key its `start_session` asked for (`None`: a random key).
    asked: Option<String>,
    /// Its `session_started` reached the visitor (left the service while the visitor was
    /// connected, and no transport said it was lost, [`Server::not_delivered`]).
    answered: bool,
    /// The visitor connection it belonged to died: the visitor's next connection must take it
    /// up again (§13).
    left: bool,
}

/// What the agent's latest request to a present visitor was (spec.md §13.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// `presence_show_terms` (the one-click button): a start needs `terms accepted` for it.
    Terms,
    /// `presence_start_session` (an agent start without the dialog): a start may follow it
    /// when the group allows it (`agent_start`), else only `terms accepted` for it (S-F26).
    AgentStart,
}

/// The simulated Glance service for one visitor: settings lookup, sessions and guests,
/// presence and one-click requests.
#[derive(Clone, Debug)]
pub struct Server {
    group_id: i32,
    /// The group's `settings.agent_start` (§13.1).
    agent_start: bool,
    /// Presence is enabled for the group (§13.1): else `presence_connect` is answered with
    /// `presence_not_configured`.
    presence_enabled: bool,
    /// §13.1 `presence_unavailable`: every `presence_connect` fails (`unavailable`).
    presence_unavailable: bool,
    /// The visitor's presence data (the latest `presence_data` frame's map) and visibility,
    /// while presence is connected.
    presence_data: BTreeMap<String, String>,
    visible: Option<bool>,
    /// The latest request of the agent to the present visitor, and whether the visitor's
    /// consent for it is in (`terms accepted` for it); forgotten with presence, consumed by
    /// the start it allows.
    request: Option<(u64, Request, bool)>,
    key_length: u8,
    session_grace: Duration,
    rng: SplitMix64,
    visitor_id: Option<String>,
    session: Option<ServerSession>,
    presence: bool,
    next_request: u64,
    offline_since: Option<Instant>,
    /// What the visitor's current connection said in its `init`: `None` until it sends one
    /// (every connection starts with `init`; a frame before it is refused), else its
    /// visitor id.
    announced: Option<Option<String>>,
    /// The current connection has sent its `init` and the session its last connection left
    /// waits for the connection's next frame to take it up (§13); meanwhile it is not the
    /// visitor's.
    awaiting_claim: bool,
    /// Why the session ended while the visitor was offline (told on `resume_session`).
    ended_offline: Option<(String, String)>,
    /// Frames the service refused because the connection had not identified itself, or
    /// that need a session when there was none.
    refusals: u32,
    /// The `user_message`s the visitor sent in its sessions, oldest first (§13.2).
    user_messages: Vec<(String, BTreeMap<String, String>)>,
    out: VecDeque<ServerFrame>,
}

impl Server {
    /// A server that knows `group_id` (any other group's settings lookup fails).
    pub fn new(group_id: i32, seed: u64, session_grace: Duration) -> Self {
        Server {
            group_id,
            agent_start: false,
            presence_enabled: true,
            presence_unavailable: false,
            presence_data: BTreeMap::new(),
            visible: None,
            request: None,
            key_length: SIM_KEY_LENGTH,
            session_grace,
            rng: SplitMix64(seed),
            visitor_id: None,
            session: None,
            presence: false,
            next_request: 0,
            offline_since: None,
            announced: None,
            awaiting_claim: false,
            ended_offline: None,
            refusals: 0,
            user_messages: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// The service's presence is down (§13.1 `presence_unavailable`): every
    /// `presence_connect` of a known visitor is answered `presence_connect_failed`
    /// (`unavailable`), so that a bounded `connect(maxAttempts)` uses its attempts up.
    pub fn with_presence_unavailable(mut self, unavailable: bool) -> Self {
        self.presence_unavailable = unavailable;
        self
    }

    /// Whether the service's presence is down (§13.1 `presence_unavailable`).
    pub fn presence_unavailable(&self) -> bool {
        self.presence_unavailable
    }

    /// This server with the group's settings of a scenario's config (§13.1): `agent_start`
    /// (sent in `settings`) and whether presence is enabled.
    pub fn with_group(mut self, agent_start: bool, presence: bool) -> Self {
        self.agent_start = agent_start;
        self.presence_enabled = presence;
        self
    }

    /// The visitor's presence data as the service holds it (the latest `presence_data`
    /// frame's map; empty without presence).
    pub fn presence_data(&self) -> &BTreeMap<String, String> {
        &self.presence_data
    }

    /// The visitor's visibility as the latest `presence_visibility` frame said (`None`
    /// before one, and without presence).
    pub fn visible(&self) -> Option<bool> {
        self.visible
    }

    /// Presence ends: what the service knew of it goes with it.
    fn presence_gone(&mut self) {
        self.presence = false;
        self.presence_data.clear();
        self.visible = None;
        self.request = None;
    }

    /// Whether a start with the visitor id as key may create a session now (§13.1): after
    /// `terms accepted` for the latest request, or after an agent start the group allows.
    /// Consumes the grant.
    fn take_consent(&mut self) -> bool {
        let granted = match self.request {
            Some((_, _, true)) => true,
            Some((_, Request::AgentStart, false)) => self.agent_start,
            None | Some((_, Request::Terms, false)) => false,
        };
        if granted {
            self.request = None;
        }
        granted
    }

    /// Whether the visitor is connected (frames reach it).
    pub fn online(&self) -> bool {
        self.offline_since.is_none()
    }

    /// Whether the visitor's current connection has sent `init`, and with which visitor id.
    pub fn announced(&self) -> Option<Option<&str>> {
        self.announced.as_ref().map(Option::as_deref)
    }

    /// Frames refused because the connection had not sent `init` (a strict service answers
    /// them with a failure; a correct SDK never causes one).
    pub fn refusals(&self) -> u32 {
        self.refusals
    }

    /// Queues a frame for the visitor; one sent while it is offline is lost, as on a real
    /// network.
    fn push(&mut self, frame: ServerFrame) {
        if self.online() {
            self.out.push_back(frame);
        }
    }

    /// The next frame for the SDK, taken to reach it (a `session_started` answers its start);
    /// a transport that then loses it says so with [`Server::not_delivered`].
    pub fn poll(&mut self) -> Option<ServerFrame> {
        let frame = self.out.pop_front()?;
        self.answer_reached(&frame, true);
        Some(frame)
    }

    /// A frame [`Server::poll`] gave that never reached the visitor (a transport that held it
    /// and lost its connection first): a `session_started` among them leaves its start
    /// unanswered, so that the visitor's next connection may send the start again (§13).
    pub fn not_delivered(&mut self, frame: &ServerFrame) {
        self.answer_reached(frame, false);
    }

    fn answer_reached(&mut self, frame: &ServerFrame, reached: bool) {
        if let (ServerFrame::SessionStarted { sessionkey }, Some(s)) = (frame, &mut self.session) {
            if s.key == *sessionkey {
                s.answered = reached;
            }
        }
    }

    /// The session the visitor is in: none while a new connection has not yet taken up the
    /// one its last connection left (§13).
    fn current(&self) -> Option<&ServerSession> {
        self.session.as_ref().filter(|_| !self.awaiting_claim)
    }

    fn current_mut(&mut self) -> Option<&mut ServerSession> {
        self.session.as_mut().filter(|_| !self.awaiting_claim)
    }

    /// Whether the visitor's current connection has sent its `init` but not yet taken up the
    /// session its last connection left (§13): its next frame decides.
    pub fn awaiting_claim(&self) -> bool {
        self.awaiting_claim
    }

    /// The running session's `max_guests` (its start's), if it has one.
    pub fn max_guests(&self) -> Option<u16> {
        self.current().and_then(|s| s.max_guests)
    }

    /// The running session's key and guest count.
    pub fn session(&self) -> Option<(&str, u32)> {
        self.current().map(|s| (s.key.as_str(), s.guests))
    }

    /// The visitor id of the latest `init` frame.
    pub fn visitor_id(&self) -> Option<&str> {
        self.visitor_id.as_deref()
    }

    /// Whether the running session is paused, as the visitor's latest `pause` frame said
    /// (`false` without a session).
    pub fn paused(&self) -> bool {
        self.current().is_some_and(|s| s.paused)
    }

    /// The running session's user state, as the latest `user_state` frame said (`None`
    /// without a session).
    pub fn user_state(&self) -> Option<&BTreeMap<String, String>> {
        self.current().map(|s| &s.user_state)
    }

    /// The `user_message`s the visitor sent in a session, oldest first.
    pub fn user_messages(&self) -> &[(String, BTreeMap<String, String>)] {
        &self.user_messages
    }

    /// Whether the visitor is present (connected to presence).
    pub fn presence(&self) -> bool {
        self.presence
    }

    /// The latest one-click request id (0 before the first).
    pub fn last_request(&self) -> u64 {
        self.next_request
    }

    /// Since when the visitor has been offline, if it is.
    pub fn offline_since(&self) -> Option<Instant> {
        self.offline_since
    }

    fn random_key(&mut self) -> String {
        (0..self.key_length)
            .map(|_| char::from(b'0' + (self.rng.next() % 10) as u8))
            .collect()
    }

    /// Handles a frame from the SDK. Every connection starts with `init`; any other frame
    /// before it is refused as a real service would (a failure answer where the frame has
    /// one), and counted in [`Server::refusals`]. The frame after a new connection's `init`
    /// takes up the session the visitor's last connection left, or the service forgets it
    /// (§13).
    pub fn receive(&mut self, frame: &ClientFrame) {
        if self.awaiting_claim {
            self.claim(frame);
        }
        if let ClientFrame::Init {
            group_id,
            visitor_id,
            ..
        } = frame
        {
            // a new connection's `init`: the session the last one left waits for its next frame
            if self.announced.is_none() && self.session.as_ref().is_some_and(|s| s.left) {
                self.awaiting_claim = true;
            }
            self.visitor_id = visitor_id.clone();
            self.announced = Some(visitor_id.clone());
            let answer = if *group_id == self.group_id {
                ServerFrame::Settings {
                    v: PROTOCOL_VERSION,
                    key_length: self.key_length,
                    agent_start: self.agent_start,
                }
            } else {
                ServerFrame::InitFailed {
                    reason: "unknown_group".into(),
                }
            };
            self.push(answer);
            return;
        }
        if self.announced.is_none() {
            self.refusals += 1;
            let refusal = match frame {
                ClientFrame::StartSession { .. } => Some(ServerFrame::SessionRefused {
                    reason: "unknown_visitor".into(),
                }),
                ClientFrame::PresenceConnect { .. } => Some(ServerFrame::PresenceConnectFailed {
                    reason: "unknown_visitor".into(),
                }),
                _ => None,
            };
            if let Some(f) = refusal {
                self.push(f);
            }
            return;
        }
        match frame {
            ClientFrame::Init { .. } => {}
            ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            } => {
                // the visitor id as key: a new one-click session needs the customer's consent
                // (or the group's agent start) for the latest request (§13.1)
                let one_click = self.session.is_none()
                    && key.is_some()
                    && key.as_deref() == self.announced.as_ref().and_then(|a| a.as_deref());
                if one_click && !self.take_consent() {
                    self.refusals += 1;
                    self.push(ServerFrame::SessionRefused {
                        reason: "consent_required".into(),
                    });
                    return;
                }
                let reply = match (&self.session, key) {
                    // a start sent again after a reconnect: the same session
                    (Some(s), None) => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(s), Some(k)) if *k == s.key => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(_), Some(_)) => ServerFrame::SessionRefused {
                        reason: "session_exists".into(),
                    },
                    (None, k) => {
                        let key = k.clone().unwrap_or_else(|| self.random_key());
                        self.ended_offline = None;
                        self.session = Some(ServerSession {
                            key: key.clone(),
                            guests: 0,
                            guests_sent: 0,
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
                self.push(reply);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.push(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => match &mut self.session {
                Some(s) if s.key == *sessionkey => {
                    // the agent count, always: a count sent just before the link died may
                    // never have arrived, and the service cannot know
                    s.guests_sent = s.guests;
                    let guestcount = s.guests;
                    self.push(ServerFrame::GuestCount { guestcount });
                }
                _ => {
                    let reason = match self.ended_offline.take() {
                        Some((key, reason)) if key == *sessionkey => reason,
                        _ => "expired".into(),
                    };
                    self.push(ServerFrame::SessionEnded { reason });
                }
            },
            ClientFrame::PresenceConnect { .. } if !self.presence_enabled => {
                self.push(ServerFrame::PresenceNotConfigured {});
            }
            ClientFrame::PresenceConnect { .. } if self.presence_unavailable => {
                self.push(ServerFrame::PresenceConnectFailed {
                    reason: "unavailable".into(),
                });
            }
            ClientFrame::PresenceConnect { visitor_id } => {
                // presence is for the visitor this connection identified
                if matches!(&self.announced, Some(Some(a)) if a == visitor_id) {
                    self.presence = true;
                    self.push(ServerFrame::PresenceConnected {});
                } else {
                    self.push(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence_gone(),
            // presence data and visibility belong to a presence connection
            ClientFrame::PresenceData { .. } | ClientFrame::PresenceVisibility { .. }
                if !self.presence =>
            {
                self.refusals += 1;
            }
            ClientFrame::PresenceData { map } => self.presence_data = map.clone(),
            ClientFrame::PresenceVisibility { visible } => self.visible = Some(*visible),
            ClientFrame::PresenceSignal {
                event,
                map,
                request_id: Some(r),
            } if event == TERMS_EVENT => {
                if let Some((latest, _, consent)) = &mut self.request {
                    if *latest == *r {
                        match map.get("status").map(String::as_str) {
                            Some("accepted") => *consent = true,
                            Some("declined") => self.request = None,
                            _ => {}
                        }
                    }
                }
            }
            ClientFrame::PresenceSignal { .. } | ClientFrame::AppState { .. } => {}
            // pause, user messages and state belong to a session (§13.2)
            ClientFrame::Pause { .. }
            | ClientFrame::UserMessage { .. }
            | ClientFrame::UserState { .. }
                if self.session.is_none() =>
            {
                self.refusals += 1;
            }
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
        }
    }

    /// The first frame after a new connection's `init` (§13): S-N02 sends a session's frame
    /// first, so `resume_session` with its key (a running session), `end_session` (an ending
    /// one) or, for a start whose `session_started` never reached the visitor, `start_session`
    /// again with the key it asked for take the session up; any other frame says the visitor
    /// came back without it (a new process: §5.6 keeps no starting session), and the service
    /// forgets it, its agents with it, without a word to the visitor.
    fn claim(&mut self, frame: &ClientFrame) {
        self.awaiting_claim = false;
        let taken_up = match (frame, &self.session) {
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

    /// The visitor's connection dropped: presence goes with it, and the next connection
    /// must identify itself again and take up the session (§13).
    pub fn connection_lost(&mut self, now: Instant) {
        self.presence_gone();
        self.announced = None;
        self.awaiting_claim = false;
        // the pause and the user state are told on each connection (S-N02 sends them again
        // after `resume_session`): they go with the connection, the session stays for the
        // visitor's next connection to take up
        if let Some(session) = &mut self.session {
            session.paused = false;
            session.user_state.clear();
            session.left = true;
        }
        if self.offline_since.is_none() {
            self.offline_since = Some(now);
        }
    }

    /// A new connection from the visitor is up; a session offline longer than the grace is
    /// gone.
    pub fn connection_restored(&mut self, now: Instant) {
        self.announced = None;
        self.awaiting_claim = false;
        if let Some(since) = self.offline_since.take() {
            if now.saturating_since(since) >= self.session_grace {
                self.session = None;
            }
        }
    }

    /// The agent sends the visitor a custom signal (`presence_signal`, §13.1); `Err` unless
    /// the visitor is present.
    pub fn agent_signal(
        &mut self,
        event: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<(), AgentRefusal> {
        if !self.presence {
            return Err(AgentRefusal::VisitorNotPresent);
        }
        self.push(ServerFrame::PresenceSignal {
            event: event.to_owned(),
            map: map.clone(),
        });
        Ok(())
    }

    /// An agent in the running session sends the visitor a message (`user_message`, §13.2);
    /// `Err` unless a session runs. One sent while the visitor is offline is lost.
    pub fn agent_message(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<(), AgentRefusal> {
        if self.current().is_none() {
            return Err(AgentRefusal::NoSession);
        }
        self.push(ServerFrame::UserMessage {
            name: name.to_owned(),
            map: map.clone(),
        });
        Ok(())
    }

    /// An agent acts; `Err` when the action is not possible now. What the agent does while
    /// the visitor is offline is told on `resume_session`.
    pub fn agent(&mut self, action: AgentAction) -> Result<(), AgentRefusal> {
        let online = self.online();
        match action {
            AgentAction::Join | AgentAction::Leave => {
                let s = self.current_mut().ok_or(AgentRefusal::NoSession)?;
                if action == AgentAction::Leave {
                    if s.guests == 0 {
                        return Err(AgentRefusal::NoAgentInSession);
                    }
                    s.guests -= 1;
                } else {
                    // the start's `max_guests` is the service's to enforce (§13.2)
                    if s.max_guests.is_some_and(|n| s.guests >= u32::from(n)) {
                        return Err(AgentRefusal::SessionFull);
                    }
                    s.guests += 1;
                }
                if online {
                    s.guests_sent = s.guests;
                    let guestcount = s.guests;
                    self.push(ServerFrame::GuestCount { guestcount });
                }
            }
            AgentAction::StartPresenceSession => {
                if !self.presence {
                    return Err(AgentRefusal::VisitorNotPresent);
                }
                self.next_request += 1;
                let request_id = self.next_request;
                self.request = Some((request_id, Request::Terms, false));
                self.push(ServerFrame::PresenceShowTerms { request_id });
            }
            AgentAction::StartWithoutTerms => {
                if !self.presence {
                    return Err(AgentRefusal::VisitorNotPresent);
                }
                self.next_request += 1;
                let request_id = self.next_request;
                self.request = Some((request_id, Request::AgentStart, false));
                self.push(ServerFrame::PresenceStartSession { request_id });
            }
            AgentAction::EndSession => {
                self.current().ok_or(AgentRefusal::NoSession)?;
                let s = self.session.take().ok_or(AgentRefusal::NoSession)?;
                if online {
                    self.push(ServerFrame::SessionEnded {
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

/// Why the simulated agent cannot act now (the transcript's `error.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentRefusal {
    /// `join`, `leave`, `end_session` or `message` with no session.
    NoSession,
    /// `leave` with no agent in the session.
    NoAgentInSession,
    /// `join` when the session has the `max_guests` it was started with.
    SessionFull,
    /// `start_presence_session`, `start_without_terms` or `signal` while the visitor is not
    /// present.
    VisitorNotPresent,
}

impl AgentRefusal {
    /// The snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            AgentRefusal::NoSession => "no_session",
            AgentRefusal::NoAgentInSession => "no_agent_in_session",
            AgentRefusal::SessionFull => "session_full",
            AgentRefusal::VisitorNotPresent => "visitor_not_present",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const ID: &str = "cust-42";

    /// A server whose visitor's connection announced `ID`, settings answered.
    fn announced(agent_start: bool, presence: bool) -> Server {
        let mut s =
            Server::new(19921, 7, Duration::from_secs(60)).with_group(agent_start, presence);
        s.receive(&ClientFrame::Init {
            v: PROTOCOL_VERSION,
            group_id: 19921,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: Some(ID.into()),
        });
        assert_eq!(
            s.poll(),
            Some(ServerFrame::Settings {
                v: PROTOCOL_VERSION,
                key_length: SIM_KEY_LENGTH,
                agent_start,
            })
        );
        s
    }

    fn present(agent_start: bool) -> Server {
        let mut s = announced(agent_start, true);
        s.receive(&ClientFrame::PresenceConnect {
            visitor_id: ID.into(),
        });
        assert_eq!(s.poll(), Some(ServerFrame::PresenceConnected {}));
        s
    }

    fn one_click(s: &mut Server) -> Option<ServerFrame> {
        s.receive(&ClientFrame::StartSession {
            key: Some(ID.into()),
            max_guests: None,
            paused: false,
        });
        s.poll()
    }

    fn terms(s: &mut Server, status: &str, request_id: u64) {
        s.receive(&ClientFrame::PresenceSignal {
            event: TERMS_EVENT.into(),
            map: BTreeMap::from([("status".to_owned(), status.to_owned())]),
            request_id: Some(request_id),
        });
    }

    #[test]
    fn a_group_without_presence_says_so() {
        let mut s = announced(false, false);
        s.receive(&ClientFrame::PresenceConnect {
            visitor_id: ID.into(),
        });
        assert_eq!(s.poll(), Some(ServerFrame::PresenceNotConfigured {}));
        assert!(!s.presence());
        assert_eq!(
            s.agent(AgentAction::StartWithoutTerms),
            Err(AgentRefusal::VisitorNotPresent)
        );
        assert_eq!(
            s.agent_signal("open_page", &BTreeMap::new()),
            Err(AgentRefusal::VisitorNotPresent)
        );
    }

    #[test]
    fn presence_data_and_visibility_belong_to_presence() {
        let data = BTreeMap::from([("page".to_owned(), "cart".to_owned())]);
        let mut s = announced(false, true);
        s.receive(&ClientFrame::PresenceData { map: data.clone() });
        s.receive(&ClientFrame::PresenceVisibility { visible: false });
        assert_eq!(s.refusals(), 2);
        assert!(s.presence_data().is_empty());
        assert_eq!(s.visible(), None);
        let mut s = present(false);
        s.receive(&ClientFrame::PresenceData { map: data.clone() });
        s.receive(&ClientFrame::PresenceVisibility { visible: false });
        assert_eq!((s.presence_data(), s.visible()), (&data, Some(false)));
        // each frame replaces the data
        s.receive(&ClientFrame::PresenceData {
            map: BTreeMap::new(),
        });
        assert!(s.presence_data().is_empty());
        s.receive(&ClientFrame::PresenceData { map: data });
        s.receive(&ClientFrame::PresenceDisconnect {});
        assert!(s.presence_data().is_empty());
        assert_eq!((s.visible(), s.refusals()), (None, 0));
    }

    #[test]
    fn a_one_click_start_needs_consent_for_the_latest_request() {
        let refused = Some(ServerFrame::SessionRefused {
            reason: "consent_required".into(),
        });
        let started = Some(ServerFrame::SessionStarted {
            sessionkey: ID.into(),
        });
        let mut s = present(false);
        assert_eq!(one_click(&mut s), refused);
        s.agent(AgentAction::StartPresenceSession).unwrap();
        assert_eq!(
            s.poll(),
            Some(ServerFrame::PresenceShowTerms { request_id: 1 })
        );
        s.agent(AgentAction::StartPresenceSession).unwrap();
        let _ = s.poll();
        terms(&mut s, "accepted", 1); // an answer to an older request
        assert_eq!(one_click(&mut s), refused);
        terms(&mut s, "accepted", 2);
        assert_eq!(one_click(&mut s), started);
        assert_eq!(s.refusals(), 2);
        // an agent start: the group's setting decides, else the terms do
        let mut s = present(false);
        s.agent(AgentAction::StartWithoutTerms).unwrap();
        assert_eq!(
            s.poll(),
            Some(ServerFrame::PresenceStartSession { request_id: 1 })
        );
        assert_eq!(one_click(&mut s), refused);
        terms(&mut s, "accepted", 1);
        assert_eq!(one_click(&mut s), started);
        let mut s = present(true);
        s.agent(AgentAction::StartWithoutTerms).unwrap();
        let _ = s.poll();
        assert_eq!(one_click(&mut s), started);
        // one start per grant; and the grant goes with presence
        s.receive(&ClientFrame::EndSession {});
        let _ = s.poll();
        assert_eq!(one_click(&mut s), refused);
        s.agent(AgentAction::StartWithoutTerms).unwrap();
        let _ = s.poll();
        s.receive(&ClientFrame::PresenceDisconnect {});
        assert_eq!(one_click(&mut s), refused);
    }

    fn init(s: &mut Server) {
        s.receive(&ClientFrame::Init {
            v: PROTOCOL_VERSION,
            group_id: 19921,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: Some(ID.into()),
        });
        assert!(matches!(s.poll(), Some(ServerFrame::Settings { .. })));
    }

    /// A random-key session with one agent whose connection died (`answered`: its
    /// `session_started` reached the visitor), and the visitor's next connection up with its
    /// `init` sent: the session waits for the next frame.
    fn left_behind(answered: bool) -> (Server, String) {
        let mut s = announced(false, true);
        s.receive(&ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        });
        let Some(started @ ServerFrame::SessionStarted { .. }) = s.poll() else {
            panic!("no session_started")
        };
        if !answered {
            s.not_delivered(&started);
        }
        let ServerFrame::SessionStarted { sessionkey } = started else {
            unreachable!()
        };
        s.agent(AgentAction::Join).unwrap();
        let _ = s.poll();
        s.connection_lost(Instant::from_millis(1_000));
        // offline, the session is still the visitor's: an agent may join it
        assert_eq!(s.session(), Some((sessionkey.as_str(), 1)));
        s.connection_restored(Instant::from_millis(2_000));
        assert!(!s.awaiting_claim());
        init(&mut s);
        assert!(s.awaiting_claim());
        assert_eq!(s.session(), None, "not the visitor's until it takes it up");
        assert_eq!(s.agent(AgentAction::Join), Err(AgentRefusal::NoSession));
        (s, sessionkey)
    }

    /// §13: S-N02's first frame after `init` takes the session up: `resume_session` with its
    /// key (told the agent count), `end_session`, or the start sent again for a start whose
    /// answer never reached the visitor.
    #[test]
    fn the_next_connection_takes_the_session_up() {
        let (mut s, key) = left_behind(true);
        s.receive(&ClientFrame::ResumeSession {
            sessionkey: key.clone(),
        });
        assert_eq!(s.poll(), Some(ServerFrame::GuestCount { guestcount: 1 }));
        assert_eq!(s.session(), Some((key.as_str(), 1)));
        assert!(!s.awaiting_claim());
        // taken up, it is an ordinary session again: a later frame does not decide anything
        s.receive(&ClientFrame::PresenceConnect {
            visitor_id: ID.into(),
        });
        assert_eq!(s.session(), Some((key.as_str(), 1)));

        let (mut s, _) = left_behind(true);
        s.receive(&ClientFrame::EndSession {});
        assert_eq!(
            s.poll(),
            Some(ServerFrame::SessionEnded {
                reason: "visitor_ended".into()
            })
        );
        assert_eq!(s.session(), None);

        let (mut s, key) = left_behind(false);
        s.receive(&ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        });
        assert_eq!(
            s.poll(),
            Some(ServerFrame::SessionStarted {
                sessionkey: key.clone()
            })
        );
        assert_eq!(s.session(), Some((key.as_str(), 1)));
    }

    /// §13: any other first frame after `init` says the visitor came back without the
    /// session (a new process: §5.6 keeps no starting session): the service forgets it and
    /// its agents, without a word; a start is then a new session.
    #[test]
    fn a_visitor_back_without_its_session_has_it_forgotten() {
        // a start whose answer reached the visitor is not taken up by a start: a new process
        let (mut s, key) = left_behind(true);
        s.receive(&ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        });
        let Some(ServerFrame::SessionStarted { sessionkey }) = s.poll() else {
            panic!("a new session")
        };
        assert_ne!(sessionkey, key);
        assert_eq!(s.session(), Some((sessionkey.as_str(), 0)));
        // a start in flight is taken up only by the start that asked for it
        let (mut s, _) = left_behind(false);
        s.receive(&ClientFrame::StartSession {
            key: Some("other".into()),
            max_guests: None,
            paused: false,
        });
        assert_eq!(
            s.poll(),
            Some(ServerFrame::SessionStarted {
                sessionkey: "other".into()
            })
        );
        assert_eq!(s.session(), Some(("other", 0)));
        // presence first, another init, another key's resume: forgotten
        for frame in [
            ClientFrame::PresenceConnect {
                visitor_id: ID.into(),
            },
            ClientFrame::Init {
                v: PROTOCOL_VERSION,
                group_id: 19921,
                token: String::new(),
                name: String::new(),
                email: String::new(),
                phone: String::new(),
                visitor_id: None,
            },
            ClientFrame::ResumeSession {
                sessionkey: "9999".into(),
            },
        ] {
            let (mut s, _) = left_behind(false);
            s.receive(&frame);
            assert_eq!(s.session(), None, "{frame:?}");
            assert!(!s.awaiting_claim());
            while s.poll().is_some() {}
            // the next connection has nothing to take up
            s.connection_lost(Instant::from_millis(3_000));
            s.connection_restored(Instant::from_millis(3_000));
            init(&mut s);
            assert!(!s.awaiting_claim());
        }
    }

    #[test]
    fn the_agents_signal_reaches_a_present_visitor() {
        let mut s = present(false);
        let map = BTreeMap::from([("page".to_owned(), "checkout".to_owned())]);
        s.agent_signal("open_page", &map).unwrap();
        assert_eq!(
            s.poll(),
            Some(ServerFrame::PresenceSignal {
                event: "open_page".into(),
                map
            })
        );
    }
}
