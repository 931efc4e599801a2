//! Agreement and progress (spec.md §10.4): the checks that say what must have happened, on a
//! simulated [`World`], as opposed to the oracle's safety checks on a transcript.
//!
//! - [`agreement`] holds whenever the world has settled with the link up (INV-AGREEMENT):
//!   the service's view of the visitor equals the SDK's state and what the app was told,
//!   the visitor's presence data included.
//! - [`healed`] holds at the end of a *healed* world: any scenario followed by
//!   [`heal_suffix`] (link restored, foreground, time past every bound of §7), where every
//!   liveness property (LIVE-…) must have delivered.
//! - [`suspended`] holds after [`background_suffix`] (LIVE-BACKGROUND-SUSPEND).
//! - [`restart_transparent`] compares a scenario with the same scenario relaunched after a
//!   settled step, both healed (LIVE-RESTART-TRANSPARENT).

use crate::sim::World;
use crate::transcript::Step;
use cobrowse_visitor_core::{
    ControllerState, Identity, Lifecycle, Lookup, NetworkChange, Phase, Presence, Session, Terms,
};
use std::fmt;

/// A property of spec.md §10.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Property {
    /// `INV-AGREEMENT`: service, SDK and app agree once settled with the link up.
    Agreement,
    /// `LIVE-INIT`: every accepted `init_visitor` completes, and the service knows the id.
    Init,
    /// `LIVE-PRESENCE`: a logged-in, foreground, online visitor is present.
    Presence,
    /// `LIVE-SESSION-RESOLVES`: every start and end resolves.
    SessionResolves,
    /// `LIVE-GUEST-COUNT`: the app's agent count is the service's.
    GuestCount,
    /// `LIVE-BACKGROUND-SUSPEND`: presence is suspended in the background.
    BackgroundSuspend,
    /// `LIVE-RESTART-TRANSPARENT`: a relaunch after a settled step changes nothing the
    /// service sees once healed, apart from the restart's documented effects.
    RestartTransparent,
}

impl Property {
    /// The ID in spec.md.
    pub const fn id(self) -> &'static str {
        match self {
            Property::Agreement => "INV-AGREEMENT",
            Property::Init => "LIVE-INIT",
            Property::Presence => "LIVE-PRESENCE",
            Property::SessionResolves => "LIVE-SESSION-RESOLVES",
            Property::GuestCount => "LIVE-GUEST-COUNT",
            Property::BackgroundSuspend => "LIVE-BACKGROUND-SUSPEND",
            Property::RestartTransparent => "LIVE-RESTART-TRANSPARENT",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A property that does not hold, and what was seen instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Which property.
    pub property: Property,
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.message)
    }
}

fn finding(property: Property, message: String) -> Finding {
    Finding { property, message }
}

/// Longest bound of §7 (the grace, 60 s) and then some: after this much quiet time, every
/// timer-bounded property has delivered.
pub const HEAL_MS: u64 = 130_000;

/// The heal suffix: the link back, the app in front, time past every bound.
pub fn heal_suffix() -> Vec<Step> {
    vec![
        Step::Network(NetworkChange::Restored),
        Step::Lifecycle(Lifecycle::Foreground),
        Step::AdvanceMs(HEAL_MS),
    ]
}

/// The background suffix of LIVE-BACKGROUND-SUSPEND: the app hidden, twice the suspend bound.
pub fn background_suffix() -> Vec<Step> {
    vec![
        Step::Lifecycle(Lifecycle::Background),
        Step::AdvanceMs(HEAL_MS),
    ]
}

/// INV-AGREEMENT, for a world that has settled (call it after a step). Nothing is judged while
/// the link is down or outside `phase=ready`.
pub fn agreement(w: &World) -> Option<Finding> {
    let Phase::Ready(r) = &w.sdk().state().phase else {
        return None;
    };
    if !w.network_up() || r.lookup != Lookup::Done {
        return None;
    }
    let server = w.server();
    // compared as values, written (as `Debug` writes them) only into a finding
    fn agree<T: PartialEq + std::fmt::Debug>(what: &str, service: T, sdk: T) -> Option<Finding> {
        (service != sdk).then(|| {
            finding(
                Property::Agreement,
                format!("{what}: the service has {service:?}, the SDK {sdk:?}"),
            )
        })
    }
    let sdk_id = r.visitor.visitor_id.as_deref();
    if let Some(f) = agree("visitor id", server.announced(), Some(sdk_id)) {
        return Some(f);
    }
    let sdk_present = matches!(r.presence, Presence::Connected { .. } | Presence::Blurred);
    if let Some(f) = agree("presence", server.presence(), sdk_present) {
        return Some(f);
    }
    // the agent's view of the visitor: the data the app set, merged (S-A80, S-F20)
    if matches!(r.presence, Presence::Connected { .. }) {
        if let Some(f) = agree(
            "presence data",
            format!("{:?}", server.presence_data()),
            format!("{:?}", r.presence_data),
        ) {
            return Some(f);
        }
    }
    let sdk_session = match &r.session {
        Session::Running { key, guests, .. } => Some((key.as_str(), *guests)),
        _ => None,
    };
    if let Some(f) = agree("session", server.session(), sdk_session) {
        return Some(f);
    }
    // the running session's pause and user state (§13.2): the service's are the SDK's, and
    // the app shows `session_paused` exactly when paused (C-U80)
    if let Session::Running {
        paused, user_state, ..
    } = &r.session
    {
        if let Some(f) = agree("paused", server.paused().to_string(), paused.to_string()) {
            return Some(f);
        }
        if let Some(f) = agree(
            "user state",
            format!("{:?}", server.user_state()),
            format!("{:?}", Some(user_state)),
        ) {
            return Some(f);
        }
        if let ControllerState::Running(app) = w.controller().state() {
            if app.paused != *paused {
                return Some(finding(
                    Property::Agreement,
                    format!(
                        "paused: the SDK's session is paused={paused}, the app shows session_paused={}",
                        app.paused
                    ),
                ));
            }
        }
    }
    None
}

/// What the service sees of the visitor, for LIVE-RESTART-TRANSPARENT: visitor id, session
/// key, paused, user state, the agent count the app was told, presence connected, presence
/// data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceView {
    /// The visitor id the visitor's connection announced.
    pub visitor_id: Option<Option<String>>,
    /// The session's key, if the service has one.
    pub session: Option<String>,
    /// The session is paused.
    pub paused: bool,
    /// The session's user state.
    pub user_state: Option<std::collections::BTreeMap<String, String>>,
    /// The agent count the app was told (the SDK's running session's), if one runs.
    pub guests_told: Option<u32>,
    /// Presence connected at the service.
    pub presence: bool,
    /// The presence data the service holds.
    pub presence_data: std::collections::BTreeMap<String, String>,
}

impl ServiceView {
    /// The view of `w`'s service (and the agent count its app was told).
    pub fn of(w: &World) -> ServiceView {
        let server = w.server();
        ServiceView {
            visitor_id: server.announced().map(|id| id.map(str::to_owned)),
            session: server.session().map(|(k, _)| k.to_owned()),
            paused: server.paused(),
            user_state: server.user_state().cloned(),
            guests_told: w.sdk().session_info().map(|(_, g, _)| g),
            presence: server.presence(),
            presence_data: server.presence_data().clone(),
        }
    }
}

/// Whether a `relaunch` inserted now is one LIVE-RESTART-TRANSPARENT judges (spec.md §10.4):
/// the world has settled with the link up, the SDK core and the controller both give a
/// snapshot (`ready`, launched and not exited), the lookup is done, no session is starting
/// and no terms request or dialog is open (the restart's documented effects drop those,
/// §5.6, §6.1; an ending session is kept and its end sent again, S-R04), no session
/// started without `persist` runs (the restore ends it, S-R04: INV-PERSIST judges that), and
/// the app is in the foreground (a relaunched app comes back in the foreground, §5.6: from
/// then on its presence and app state are not the backgrounded world's, so an agent's later
/// step can find the visitor present in one world and suspended in the other).
pub fn relaunch_judged(w: &World) -> bool {
    let Phase::Ready(r) = &w.sdk().state().phase else {
        return false;
    };
    let dialog = match (w.controller().state(), &r.presence) {
        (ControllerState::Running(app), Presence::Connected { terms }) => {
            app.terms_shown || *terms != Terms::None
        }
        (ControllerState::Running(app), _) => app.terms_shown,
        _ => return false,
    };
    w.network_up()
        && w.sdk().state().app == cobrowse_visitor_core::AppVisibility::Foreground
        && r.lookup == Lookup::Done
        && matches!(
            r.session,
            Session::Idle | Session::Running { persist: true, .. } | Session::Ending { .. }
        )
        && !dialog
        && w.sdk().snapshot(0).is_some()
        && w.controller().snapshot().is_some()
}

/// LIVE-RESTART-TRANSPARENT: plays `steps` twice, once as they are and once with
/// `{"relaunch": {"away_ms": away_ms}}` inserted after line `k` (0-based, the config line
/// counted), `away_ms` below the grace; both are healed ([`heal_suffix`]) and the service's
/// views ([`ServiceView`]) must be equal. `Ok(None)` also when the relaunch is not one the
/// property judges there ([`relaunch_judged`], or `away_ms` not below the grace).
pub fn restart_transparent(
    steps: &[Step],
    k: usize,
    away_ms: u64,
) -> Result<Option<Finding>, crate::sim::NotSettled> {
    let config = match steps.first() {
        Some(Step::Config(c)) => c.clone(),
        _ => crate::transcript::ScenarioConfig::default(),
    };
    let grace = cobrowse_visitor_core::SdkConfig::default().session_grace;
    if u128::from(away_ms) >= grace.as_millis() || k >= steps.len() {
        return Ok(None);
    }
    let play = |with: bool| -> Result<Option<World>, crate::sim::NotSettled> {
        let mut w = World::new(&config);
        let mut i = 0;
        for (n, s) in steps.iter().enumerate() {
            w.apply(i, s)?;
            i += 1;
            if with && n == k {
                if !relaunch_judged(&w) {
                    return Ok(None);
                }
                w.apply(i, &Step::Relaunch { away_ms })?;
                i += 1;
            }
        }
        for s in heal_suffix() {
            w.apply(i, &s)?;
            i += 1;
        }
        Ok(Some(w))
    };
    let Some(relaunched) = play(true)? else {
        return Ok(None);
    };
    let Some(plain) = play(false)? else {
        return Ok(None);
    };
    let (a, b) = (ServiceView::of(&plain), ServiceView::of(&relaunched));
    Ok((a != b).then(|| {
        finding(
            Property::RestartTransparent,
            format!(
                "after a relaunch of {away_ms} ms after line {} and the heal suffix, the service sees {b:?}; without it, {a:?}",
                k + 1
            ),
        )
    }))
}

/// The liveness properties at the end of a healed world (after [`heal_suffix`]).
pub fn healed(w: &World) -> Vec<Finding> {
    let mut out = Vec::new();
    let state = w.sdk().state();
    let Phase::Ready(r) = &state.phase else {
        if let Phase::Initializing { .. } = state.phase {
            out.push(finding(
                Property::Init,
                "the first init_visitor never completed".into(),
            ));
        }
        return out;
    };
    if r.lookup == Lookup::Pending {
        out.push(finding(
            Property::Init,
            "a re-init's lookup is still pending".into(),
        ));
    }
    let id = r.visitor.visitor_id.as_deref();
    if w.server().announced() != Some(id) {
        out.push(finding(
            Property::Init,
            format!(
                "the service knows {:?}, the SDK's visitor id is {id:?}",
                w.server().announced()
            ),
        ));
    }
    let logged_in = matches!(
        w.controller().state(),
        ControllerState::Running(app) if matches!(app.identity, Identity::LoggedIn(_))
    );
    // presence configured for the group: the SDK was not told otherwise since the latest
    // init (S-F27; a re-init looks again, S-A04)
    let configured = r.presence != Presence::NotConfigured && !w.server().presence_unavailable();
    if logged_in && id.is_some() && configured && !matches!(r.presence, Presence::Connected { .. })
    {
        out.push(finding(
            Property::Presence,
            format!(
                "logged in, online and in front, but presence is {}",
                r.presence.kind()
            ),
        ));
    }
    if matches!(r.session, Session::Starting { .. } | Session::Ending { .. }) {
        out.push(finding(
            Property::SessionResolves,
            format!("the session is still {}", r.session.kind()),
        ));
    }
    // the SDK's count is the app's: S-F12 delivers every count it takes
    if let (Some((_, guests)), Session::Running { guests: told, .. }) =
        (w.server().session(), &r.session)
    {
        if *told != guests {
            out.push(finding(
                Property::GuestCount,
                format!("the app was told {told} agents, the session has {guests}"),
            ));
        }
    }
    out.extend(agreement(w));
    out
}

/// LIVE-BACKGROUND-SUSPEND after [`background_suffix`]: presence is not connected unless a
/// terms dialog the customer sees (displayed, or accepted) holds it.
pub fn suspended(w: &World) -> Option<Finding> {
    let Phase::Ready(r) = &w.sdk().state().phase else {
        return None;
    };
    match r.presence {
        Presence::Connected {
            terms: Terms::Displayed { .. } | Terms::Accepted { .. },
        } => None,
        Presence::Connected { .. } | Presence::Blurred => Some(finding(
            Property::BackgroundSuspend,
            format!(
                "{} ms in the background and presence is still {}",
                HEAL_MS,
                r.presence.kind()
            ),
        )),
        _ => None,
    }
}

/// Plays `steps` (its first may be a config) and judges everything of §10.4 on it:
/// INV-AGREEMENT after every step, then the heal suffix and the liveness properties
/// ([`healed`]), then the background suffix ([`suspended`]). The scenario must not call the
/// SDK directly (`api` steps): an app that misuses the API can keep presence off itself.
pub fn judge(steps: &[Step]) -> Result<Vec<Finding>, crate::sim::NotSettled> {
    let (w, mut found) = play_and_agree(steps)?;
    found.extend(heal_and_judge(&w, steps.len())?);
    Ok(found)
}

/// The first part of [`judge`]: plays the scenario in a world of its own, judging
/// INV-AGREEMENT after every line; returns the world as played (its transcript is the one
/// [`World::run`] gives) for [`heal_and_judge`] (a harness that plays a scenario twice for
/// determinism judges one of the plays).
pub fn play_and_agree(steps: &[Step]) -> Result<(World, Vec<Finding>), crate::sim::NotSettled> {
    let config = match steps.first() {
        Some(Step::Config(c)) => c.clone(),
        _ => crate::transcript::ScenarioConfig::default(),
    };
    let mut w = World::new(&config);
    let mut found = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        w.apply(i, s)?;
        found.extend(agreement(&w).map(|f| Finding {
            message: format!("after line {}: {}", i + 1, f.message),
            ..f
        }));
    }
    Ok((w, found))
}

/// From any settled world, without changing it: the heal suffix and [`healed`], then the
/// background suffix and [`suspended`], on a copy; `line` is the next scenario line's index.
/// The exhaustive exploration calls this from every state it reaches.
pub fn heal_and_judge(world: &World, line: usize) -> Result<Vec<Finding>, crate::sim::NotSettled> {
    let mut w = world.clone();
    let mut i = line;
    let mut found = Vec::new();
    for s in heal_suffix() {
        w.apply(i, &s)?;
        i += 1;
    }
    found.extend(healed(&w));
    for s in background_suffix() {
        w.apply(i, &s)?;
        i += 1;
    }
    found.extend(suspended(&w));
    Ok(found)
}
