//! Agreement and progress (spec.md §10.4): the checks that say what must have happened, on a
//! simulated [`World`], as opposed to the oracle's safety checks on a transcript.
//!
//! - [`agreement`] holds whenever the world has settled with the link up (INV-AGREEMENT):
//!   the service's view of the visitor equals the SDK's state and what the app was told.
//! - [`healed`] holds at the end of a *healed* world: any scenario followed by
//!   [`heal_suffix`] (link restored, foreground, time past every bound of §7), where every
//!   liveness property (LIVE-…) must have delivered.
//! - [`suspended`] holds after [`background_suffix`] (LIVE-BACKGROUND-SUSPEND).

use crate::sim::World;
use crate::transcript::{Observed, Step};
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

/// The app's last `EventGuestCountChange` since the last `EventConnectedToSession`.
fn app_guest_count(w: &World) -> Option<u32> {
    let mut count = None;
    for r in w.transcript() {
        if let Observed::Event(e) = &r.observed {
            match e.code.as_str() {
                "EventConnectedToSession" => count = Some(0),
                "EventGuestCountChange" => {
                    count = e.prop("guestcount").and_then(|g| g.parse().ok());
                }
                _ => {}
            }
        }
    }
    count
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
    let agree = |what: &str, service: String, sdk: String| {
        (service != sdk).then(|| {
            finding(
                Property::Agreement,
                format!("{what}: the service has {service}, the SDK {sdk}"),
            )
        })
    };
    let sdk_id = r.visitor.visitor_id.as_deref();
    if let Some(f) = agree(
        "visitor id",
        format!("{:?}", server.announced()),
        format!("{:?}", Some(sdk_id)),
    ) {
        return Some(f);
    }
    let sdk_present = matches!(r.presence, Presence::Connected { .. } | Presence::Blurred);
    if let Some(f) = agree(
        "presence",
        server.presence().to_string(),
        sdk_present.to_string(),
    ) {
        return Some(f);
    }
    let sdk_session = match &r.session {
        Session::Running { key, guests, .. } => Some((key.clone(), *guests)),
        _ => None,
    };
    let service_session = server.session().map(|(k, g)| (k.to_owned(), g));
    if let Some(f) = agree(
        "session",
        format!("{service_session:?}"),
        format!("{sdk_session:?}"),
    ) {
        return Some(f);
    }
    if let Some((_, guests)) = service_session {
        if let Some(f) = agree(
            "agents the app was told",
            guests.to_string(),
            app_guest_count(w).unwrap_or(0).to_string(),
        ) {
            return Some(f);
        }
    }
    None
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
    if logged_in && id.is_some() && !matches!(r.presence, Presence::Connected { .. }) {
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
    if let Some((_, guests)) = w.server().session() {
        let told = app_guest_count(w).unwrap_or(0);
        if told != guests {
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
