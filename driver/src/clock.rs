//! The driver's clock: where the core's [`Instant`]s come from, and how the driver waits for
//! the core's next deadline.
//!
//! The core never reads a clock; the driver does, through a [`Clock`]. In production that is
//! tokio's monotonic clock ([`Clock::tokio`]), read as whole milliseconds since the clock was
//! made. Tests and simulations use a [`ManualClock`] that moves only when told to, so that a
//! timeout of the core fires exactly when the test winds the clock to its deadline, however
//! slow the machine is.
//!
//! Why not tokio's paused time (`start_paused`)? A paused tokio clock jumps to the next timer
//! whenever the runtime has nothing ready to poll, and with real sockets "nothing ready" also
//! happens while bytes are still on their way through the loopback interface: the core's
//! timers would fire at moments no test chose. A manual clock never moves by itself.

use cobrowse_visitor_core::Instant;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A source of the core's time.
#[derive(Clone, Debug)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Tokio { origin: tokio::time::Instant },
    Manual(ManualClock),
}

impl Clock {
    /// tokio's monotonic clock, in milliseconds since this call. (If tokio's time is paused, as
    /// with the `test-util` feature, this clock is paused too.)
    pub fn tokio() -> Clock {
        Clock {
            kind: Kind::Tokio {
                origin: tokio::time::Instant::now(),
            },
        }
    }

    /// A clock that reads `manual` and moves only when `manual` is set.
    pub fn manual(manual: &ManualClock) -> Clock {
        Clock {
            kind: Kind::Manual(manual.clone()),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match &self.kind {
            Kind::Tokio { origin } => {
                let ms = origin.elapsed().as_millis();
                Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
            }
            Kind::Manual(m) => m.now(),
        }
    }

    /// Completes once [`Clock::now`] is at or past `deadline`.
    pub async fn sleep_until(&self, deadline: Instant) {
        match &self.kind {
            Kind::Tokio { origin } => {
                match origin.checked_add(Duration::from_millis(deadline.as_millis())) {
                    Some(at) => tokio::time::sleep_until(at).await,
                    // Beyond what tokio can represent: never.
                    None => std::future::pending().await,
                }
            }
            Kind::Manual(m) => m.wait_until(deadline).await,
        }
    }

    /// Like [`Clock::sleep_until`]; never completes for `None`.
    pub async fn sleep_until_opt(&self, deadline: Option<Instant>) {
        match deadline {
            Some(d) => self.sleep_until(d).await,
            None => std::future::pending().await,
        }
    }
}

impl From<&ManualClock> for Clock {
    fn from(manual: &ManualClock) -> Clock {
        Clock::manual(manual)
    }
}

/// A clock that only moves when set: the "clock you can wind" of a deterministic test. Clones
/// share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    time: Arc<watch::Sender<Instant>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock at [`Instant::ZERO`].
    pub fn new() -> ManualClock {
        let (time, _) = watch::channel(Instant::ZERO);
        ManualClock {
            time: Arc::new(time),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        *self.time.borrow()
    }

    /// Moves the clock to `t`; a time earlier than now is ignored (the clock is monotonic).
    pub fn set(&self, t: Instant) {
        self.time.send_if_modified(|now| {
            if t > *now {
                *now = t;
                true
            } else {
                false
            }
        });
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.set(self.now().saturating_add(d));
    }

    async fn wait_until(&self, deadline: Instant) {
        let mut rx = self.time.subscribe();
        if rx.wait_for(|now| *now >= deadline).await.is_err() {
            // The sender lives as long as this clock; unreachable, but never "wake early".
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_only_when_wound() {
        let manual = ManualClock::new();
        let clock = Clock::manual(&manual);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(Instant::from_millis(1_000)).await }
        });
        manual.advance(Duration::from_millis(999));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        manual.set(Instant::from_millis(500)); // ignored: monotonic
        assert_eq!(clock.now(), Instant::from_millis(999));
        manual.advance(Duration::from_millis(1));
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("the sleeper wakes at its deadline")
            .expect("no panic");
    }

    #[tokio::test]
    async fn tokio_clock_counts_milliseconds_from_its_origin() {
        let clock = Clock::tokio();
        let t0 = clock.now();
        clock
            .sleep_until(t0.saturating_add(Duration::from_millis(2)))
            .await;
        assert!(clock.now() >= t0.saturating_add(Duration::from_millis(2)));
    }
}
