//! Machine-level judges of issue 14's invariants (spec.md §10.2: INV-CONSENT-POLICY with
//! INV-CONSENT's grant, INV-CONNECT-ATTEMPTS, INV-NOT-CONFIGURED, INV-PRESENCE-DATA), over one
//! SDK core's inputs, results and outputs.
//!
//! A judge reads only what a caller of the core sees — the configuration it chose, the inputs
//! it fed, whether each was accepted, and the outputs it drained — never the core's state, and
//! shares no code with the core or the reference model. The transcript oracle
//! (`cobrowse_visitor_conformance::oracle`) will judge the same IDs on traces; this branch's
//! oracle predates them, so the model suite and the exhaustive search judge them here.
//!
//! The judge assumes the caller keeps §2's single-mutation rule with no timer due at an
//! input's `now` (the generators and the explorers feed `Input::Timeout` at each deadline):
//! then every output of an input is that input's own.

use cobrowse_visitor_core::{
    ApiCall, ClientFrame, ConsentPolicy, Event, Input, Output, ServerFrame, StartKey, StartParams,
    TERMS_EVENT,
};
use std::collections::BTreeMap;

/// One broken invariant: its spec.md ID and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The invariant's ID (`INV-CONSENT-POLICY`, …).
    pub id: &'static str,
    /// What the input did.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.id, self.message)
    }
}

/// What grants the one `start_session()` with the visitor id (INV-CONSENT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Grant {
    /// No grant.
    None,
    /// `EventPresenceShowTerms` for this request, not yet answered `accepted`.
    Asked(u64),
    /// `terms displayed` accepted for the request.
    Displayed(u64),
    /// `terms accepted` accepted for the request: the customer's consent.
    Customer(u64),
    /// `EventPresenceStartSession` the policy allowed: the agent's start.
    Agent(u64),
}

/// The four judges, fed one input at a time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PresenceJudge {
    policy: ConsentPolicy,
    /// `agent_start` of the latest accepted `settings` frame (false before any).
    agent_start: bool,
    /// The latest accepted `init_visitor`'s visitor id; `None` before any too.
    visitor_id: Option<String>,
    grant: Grant,
    /// `max_attempts` of the latest accepted `presence_connect` (`None`: forever).
    bound: Option<u32>,
    /// `send presence_connect` in the current connect round.
    attempts: u32,
    /// An `EventPresenceConnectFail` without `retry_ms` since the latest accepted
    /// `presence_connect`.
    gave_up: bool,
    /// An `EventPresenceNotConfigured` since the latest accepted `init_visitor`.
    not_configured: bool,
    /// The merge of every accepted `presence_data` since the latest accepted `init_visitor`
    /// that changed the visitor id.
    data: BTreeMap<String, String>,
    /// Presence is connected: `EventPresenceConnected`, and since then no
    /// `EventPresenceDisconnected`, `EventConnectionWarning`, `EventPresenceBlur` or
    /// `send presence_disconnect`.
    connected: bool,
    /// Situations reached, for the properties' reach shares: visitor-id starts accepted,
    /// agent starts seen, connect rounds given up, not-configured answers, data sent.
    pub reached: Reached,
}

/// How often each judged situation came up (a property must reach its situation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reached {
    /// Accepted `start_session()` with a visitor id (S-A23, S-A26).
    pub visitor_id_starts: u32,
    /// Of those, granted by the policy (an `EventPresenceStartSession` before it).
    pub agent_starts: u32,
    /// `presence_start_session` frames accepted (S-F25 or S-F26).
    pub agent_requests: u32,
    /// `EventPresenceConnectFail` without `retry_ms`.
    pub gave_up: u32,
    /// `presence_connect` frames sent under a bound.
    pub bounded_attempts: u32,
    /// `EventPresenceNotConfigured`.
    pub not_configured: u32,
    /// `presence_data` frames sent.
    pub data_sent: u32,
}

impl PresenceJudge {
    /// A judge for a new core under `policy`.
    pub fn new(policy: ConsentPolicy) -> Self {
        PresenceJudge {
            policy,
            agent_start: false,
            visitor_id: None,
            grant: Grant::None,
            bound: None,
            attempts: 0,
            gave_up: false,
            not_configured: false,
            data: BTreeMap::new(),
            connected: false,
            reached: Reached::default(),
        }
    }

    /// The judge's state without the reach counters (for deduplicating explored states).
    pub fn key(&self) -> PresenceJudge {
        PresenceJudge {
            reached: Reached::default(),
            ..self.clone()
        }
    }

    /// Judges one input: `accepted` is whether `handle_input` returned `Ok`, `out` what was
    /// drained after it. Returns what it broke.
    pub fn observe(&mut self, input: &Input, accepted: bool, out: &[Output]) -> Vec<Finding> {
        let mut found = vec![];
        let mut fail = |id: &'static str, message: String| found.push(Finding { id, message });
        // the input itself (an accepted one; a refused one changes nothing, §2)
        // a whole-map `presence_data` is owed by the end of this input (INV-PRESENCE-DATA);
        // S-F20 sends it before its event, so the two are matched at the end
        let mut data_owed = false;
        let mut data_carried = false;
        if accepted {
            match input {
                Input::Api(ApiCall::InitVisitor(p)) => {
                    if p.visitor_id != self.visitor_id {
                        self.data.clear();
                        // INV-CONSENT: another visitor id voids a consent
                        self.grant = Grant::None;
                    }
                    self.visitor_id = p.visitor_id.clone();
                    self.not_configured = false;
                }
                Input::Api(ApiCall::StartSession(StartParams { key, .. })) => {
                    if *key == StartKey::VisitorId && self.visitor_id.is_some() {
                        self.reached.visitor_id_starts += 1;
                        match self.grant {
                            Grant::Customer(_) => {}
                            Grant::Agent(_) => self.reached.agent_starts += 1,
                            g => fail(
                                "INV-CONSENT-POLICY",
                                format!(
                                    "start_session() with the visitor id accepted without the \
                                     customer's accepted terms or an allowed agent start ({g:?})"
                                ),
                            ),
                        }
                    }
                    // the start of any session voids a consent (S-A20)
                    if matches!(self.grant, Grant::Customer(_) | Grant::Agent(_)) {
                        self.grant = Grant::None;
                    }
                }
                Input::Api(ApiCall::PresenceSignalAgent { event, map }) if event == TERMS_EVENT => {
                    let status = map.get("status").map(String::as_str);
                    self.grant = match (status, self.grant) {
                        (Some("displayed"), Grant::Asked(r)) => Grant::Displayed(r),
                        (Some("accepted"), Grant::Displayed(r)) => Grant::Customer(r),
                        (Some("declined"), _) => Grant::None,
                        (_, g) => g,
                    };
                }
                Input::Api(ApiCall::PresenceConnect { max_attempts }) => {
                    if self.not_configured {
                        fail(
                            "INV-NOT-CONFIGURED",
                            "presence_connect accepted after EventPresenceNotConfigured, before \
                             an accepted init_visitor"
                                .into(),
                        );
                    }
                    self.bound = u32::try_from(*max_attempts).ok().filter(|n| *n >= 1);
                    self.attempts = 0;
                    self.gave_up = false;
                }
                Input::Api(ApiCall::PresenceDisconnect) => self.grant = Grant::None,
                Input::Api(ApiCall::PresenceData { map }) => {
                    for (k, v) in map {
                        self.data.insert(k.clone(), v.clone());
                    }
                    data_owed = self.connected;
                }
                Input::Frame(ServerFrame::Settings { agent_start, .. }) => {
                    self.agent_start = *agent_start;
                }
                Input::Frame(ServerFrame::PresenceStartSession { .. }) => {
                    self.reached.agent_requests += 1;
                }
                _ => {}
            }
        }
        // the outputs, in order
        for o in out {
            match o {
                Output::Event(e) => match e {
                    Event::PresenceStartSession { request_id } => {
                        let allowed =
                            self.policy == ConsentPolicy::AgentMayStart && self.agent_start;
                        if !allowed {
                            fail(
                                "INV-CONSENT-POLICY",
                                format!(
                                    "EventPresenceStartSession under {} with the latest settings' \
                                     agent_start {}",
                                    self.policy.as_str(),
                                    self.agent_start
                                ),
                            );
                        }
                        self.grant = Grant::Agent(*request_id);
                    }
                    Event::PresenceShowTerms { request_id } => {
                        // a new request replaces any earlier one (S-F22, S-F26)
                        self.grant = Grant::Asked(*request_id);
                    }
                    Event::PresenceConnected => {
                        self.connected = true;
                        self.attempts = 0;
                        data_owed = !self.data.is_empty();
                    }
                    Event::PresenceDisconnected | Event::ConnectionWarning => {
                        self.connected = false;
                        self.grant = Grant::None;
                    }
                    Event::PresenceBlur => {
                        self.connected = false;
                        self.grant = Grant::None;
                        self.attempts = 0;
                    }
                    Event::ClearWarning => self.attempts = 0,
                    Event::PresenceConnectFail { retry_ms: None, .. } => {
                        self.gave_up = true;
                        self.reached.gave_up += 1;
                    }
                    Event::PresenceNotConfigured => {
                        self.not_configured = true;
                        self.reached.not_configured += 1;
                    }
                    _ => {}
                },
                Output::Transmit(f) => match f {
                    ClientFrame::PresenceConnect { .. } => {
                        self.attempts += 1;
                        if self.not_configured {
                            fail(
                                "INV-NOT-CONFIGURED",
                                "send presence_connect after EventPresenceNotConfigured, before \
                                 an accepted init_visitor"
                                    .into(),
                            );
                        }
                        if self.gave_up {
                            fail(
                                "INV-CONNECT-ATTEMPTS",
                                "send presence_connect after EventPresenceConnectFail without \
                                 retry_ms, before another accepted presence_connect"
                                    .into(),
                            );
                        }
                        if let Some(n) = self.bound {
                            self.reached.bounded_attempts += 1;
                            if self.attempts > n {
                                fail(
                                    "INV-CONNECT-ATTEMPTS",
                                    format!(
                                        "attempt {} of a connect round bounded to {n}",
                                        self.attempts
                                    ),
                                );
                            }
                        }
                    }
                    ClientFrame::PresenceDisconnect {} => {
                        self.connected = false;
                        self.grant = Grant::None;
                        self.attempts = 0;
                    }
                    ClientFrame::PresenceData { map } => {
                        self.reached.data_sent += 1;
                        if *map == self.data {
                            data_carried = true;
                        } else {
                            fail(
                                "INV-PRESENCE-DATA",
                                format!("send presence_data {map:?}, the merge is {:?}", self.data),
                            );
                        }
                    }
                    _ => {}
                },
                Output::Connect | Output::Timeout(_) => {}
            }
        }
        if data_owed && !data_carried && !self.data.is_empty() {
            fail(
                "INV-PRESENCE-DATA",
                format!(
                    "presence is connected with data {:?} and no presence_data carried it in \
                     the same input ({input:?})",
                    self.data
                ),
            );
        }
        found
    }
}

impl PresenceJudge {
    /// Judges a simulated world's records of one step, which show the SDK's inputs only as
    /// `api` and `recv` records: each such record and the `send` / `event` records after it
    /// (until the next one) are one input and its outputs, refused when an `error` record or
    /// the call's refusal event follows it; `send` / `event` records before the first are the
    /// outputs of inputs no record shows (lifecycle, network, timers), judged as such.
    pub fn observe_records(
        &mut self,
        records: &[cobrowse_visitor_conformance::transcript::Record],
    ) -> Vec<Finding> {
        use cobrowse_visitor_conformance::transcript::{EventRecord, Observed};
        let mut found = vec![];
        let mut input = Input::Timeout;
        let mut accepted = true;
        let mut out: Vec<Output> = vec![];
        let mut flush = |j: &mut PresenceJudge, input: &Input, accepted: bool, out: &[Output]| {
            found.extend(j.observe(input, accepted, out));
        };
        for r in records {
            match &r.observed {
                Observed::Api(c) => {
                    flush(self, &input, accepted, &out);
                    (input, accepted, out) = (Input::Api(c.clone()), true, vec![]);
                }
                Observed::Recv(f) => {
                    flush(self, &input, accepted, &out);
                    let frame = f.typed().cloned();
                    accepted = frame.is_some();
                    input = frame.map_or(Input::Timeout, Input::Frame);
                    out = vec![];
                }
                Observed::Error(_) => accepted = false,
                Observed::Event(EventRecord::Typed(e)) => {
                    let refusal = matches!(
                        e,
                        Event::InvalidState { .. }
                            | Event::InvalidParameter { .. }
                            | Event::PresenceSendFail { .. }
                    );
                    if refusal && matches!(input, Input::Api(_)) && out.is_empty() {
                        accepted = false;
                    }
                    out.push(Output::Event(e.clone()));
                }
                Observed::Send(f) => {
                    if let Some(f) = f.typed() {
                        out.push(Output::Transmit(f.clone()));
                    }
                }
                Observed::Event(EventRecord::Json { .. }) | Observed::Ui(_) => {}
            }
        }
        flush(self, &input, accepted, &out);
        found
    }
}

#[cfg(test)]
mod tests {
    //! The judges can fail: hand-written input/output sequences that break each invariant
    //! (outputs no correct core writes), and the correct ones beside them.
    use super::*;
    use cobrowse_visitor_core::InitParams;

    fn ids(found: &[Finding]) -> Vec<&'static str> {
        found.iter().map(|f| f.id).collect()
    }

    fn api(c: ApiCall) -> Input {
        Input::Api(c)
    }

    fn connected(j: &mut PresenceJudge, agent_start: bool) {
        let init = api(ApiCall::InitVisitor(InitParams::identified(
            19921, "cust-42",
        )));
        assert!(j.observe(&init, true, &[]).is_empty());
        let settings = Input::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start,
        });
        assert!(j.observe(&settings, true, &[]).is_empty());
        let connect = api(ApiCall::presence_connect());
        let sent = Output::Transmit(ClientFrame::PresenceConnect {
            visitor_id: "cust-42".into(),
        });
        assert!(j.observe(&connect, true, &[sent]).is_empty());
        let up = Input::Frame(ServerFrame::PresenceConnected {});
        assert!(j
            .observe(&up, true, &[Output::Event(Event::PresenceConnected)])
            .is_empty());
    }

    fn start_frame(r: u64) -> Input {
        Input::Frame(ServerFrame::PresenceStartSession { request_id: r })
    }

    fn one_click() -> Input {
        api(ApiCall::start_session(StartKey::VisitorId))
    }

    #[test]
    fn consent_policy_needs_both_sides() {
        for (policy, agent_start, ok) in [
            (ConsentPolicy::AgentMayStart, true, true),
            (ConsentPolicy::AgentMayStart, false, false),
            (ConsentPolicy::TermsRequired, true, false),
        ] {
            let mut j = PresenceJudge::new(policy);
            connected(&mut j, agent_start);
            let ev = Output::Event(Event::PresenceStartSession { request_id: 1 });
            let found = j.observe(&start_frame(1), true, &[ev]);
            assert_eq!(found.is_empty(), ok, "{policy:?} {agent_start}: {found:?}");
        }
    }

    #[test]
    fn a_one_click_start_needs_a_grant_used_once() {
        let mut j = PresenceJudge::new(ConsentPolicy::TermsRequired);
        connected(&mut j, false);
        assert_eq!(
            ids(&j.observe(&one_click(), true, &[])),
            ["INV-CONSENT-POLICY"]
        );
        // the customer's consent, once
        let shown = Output::Event(Event::PresenceShowTerms { request_id: 2 });
        j.observe(&start_frame(2), true, &[shown]);
        for status in ["displayed", "accepted"] {
            let call = api(ApiCall::PresenceSignalAgent {
                event: "terms".into(),
                map: [("status".to_owned(), status.to_owned())].into(),
            });
            assert!(j.observe(&call, true, &[]).is_empty());
        }
        assert!(j.observe(&one_click(), true, &[]).is_empty());
        assert_eq!(
            ids(&j.observe(&one_click(), true, &[])),
            ["INV-CONSENT-POLICY"]
        );
        // an allowed agent start, voided by a lost link
        let mut j = PresenceJudge::new(ConsentPolicy::AgentMayStart);
        connected(&mut j, true);
        let ev = Output::Event(Event::PresenceStartSession { request_id: 3 });
        j.observe(&start_frame(3), true, &[ev]);
        let lost = Input::Network(cobrowse_visitor_core::NetworkChange::Lost);
        j.observe(&lost, true, &[Output::Event(Event::ConnectionWarning)]);
        assert_eq!(
            ids(&j.observe(&one_click(), true, &[])),
            ["INV-CONSENT-POLICY"]
        );
    }

    #[test]
    fn connect_attempts_are_bounded_and_stop_after_giving_up() {
        let mut j = PresenceJudge::new(ConsentPolicy::TermsRequired);
        let init = api(ApiCall::InitVisitor(InitParams::identified(
            19921, "cust-42",
        )));
        j.observe(&init, true, &[]);
        let sent = || {
            Output::Transmit(ClientFrame::PresenceConnect {
                visitor_id: "cust-42".into(),
            })
        };
        let connect = api(ApiCall::PresenceConnect { max_attempts: 2 });
        assert!(j.observe(&connect, true, &[sent()]).is_empty());
        assert!(j.observe(&Input::Timeout, true, &[sent()]).is_empty());
        assert_eq!(
            ids(&j.observe(&Input::Timeout, true, &[sent()])),
            ["INV-CONNECT-ATTEMPTS"]
        );
        let gave_up = Output::Event(Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: None,
        });
        j.observe(&Input::Timeout, true, &[gave_up]);
        let restored = Input::Network(cobrowse_visitor_core::NetworkChange::Restored);
        assert_eq!(
            ids(&j.observe(
                &restored,
                true,
                &[Output::Event(Event::ClearWarning), sent()]
            )),
            ["INV-CONNECT-ATTEMPTS"]
        );
    }

    #[test]
    fn not_configured_stops_connects_until_a_reinit() {
        let mut j = PresenceJudge::new(ConsentPolicy::TermsRequired);
        let init = api(ApiCall::InitVisitor(InitParams::identified(
            19921, "cust-42",
        )));
        j.observe(&init, true, &[]);
        let frame = Input::Frame(ServerFrame::PresenceNotConfigured {});
        j.observe(&frame, true, &[Output::Event(Event::PresenceNotConfigured)]);
        let connect = api(ApiCall::presence_connect());
        assert_eq!(ids(&j.observe(&connect, true, &[])), ["INV-NOT-CONFIGURED"]);
        assert!(
            j.observe(&connect, false, &[]).is_empty(),
            "a refused call is fine"
        );
        j.observe(&init, true, &[]);
        assert!(j.observe(&connect, true, &[]).is_empty());
    }

    #[test]
    fn presence_data_goes_out_whole_when_connected() {
        let mut j = PresenceJudge::new(ConsentPolicy::TermsRequired);
        let page =
            |v: &str| -> BTreeMap<String, String> { [("page".to_owned(), v.to_owned())].into() };
        let init = api(ApiCall::InitVisitor(InitParams::identified(
            19921, "cust-42",
        )));
        j.observe(&init, true, &[]);
        j.observe(&api(ApiCall::PresenceData { map: page("cart") }), true, &[]);
        let up = Input::Frame(ServerFrame::PresenceConnected {});
        let event = Output::Event(Event::PresenceConnected);
        let mut late = j.clone();
        assert_eq!(
            ids(&late.observe(&up, true, std::slice::from_ref(&event))),
            ["INV-PRESENCE-DATA"]
        );
        let whole = Output::Transmit(ClientFrame::PresenceData { map: page("cart") });
        assert!(j.observe(&up, true, &[whole, event]).is_empty());
        let stale = Output::Transmit(ClientFrame::PresenceData { map: page("cart") });
        assert_eq!(
            ids(&j.observe(
                &api(ApiCall::PresenceData {
                    map: page("checkout")
                }),
                true,
                &[stale]
            )),
            ["INV-PRESENCE-DATA", "INV-PRESENCE-DATA"]
        );
    }
}
