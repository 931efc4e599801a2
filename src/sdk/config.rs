//! The SDK core's configuration: the durations of its timers (spec.md §7), the consent
//! policy and the limits profile.

use crate::api::Limits;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Whether an agent may start a one-click session without the customer accepting terms
/// (spec.md §5.2, S-F25 / S-F26; INV-CONSENT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ConsentPolicy {
    /// The default: a visitor-id session needs the customer's accepted terms. An agent's
    /// `presence_start_session` becomes the terms flow (`EventPresenceShowTerms`).
    #[default]
    TermsRequired,
    /// The app lets an agent start a session without the terms dialog, *when the group's
    /// settings say so too* (`settings.agent_start`); otherwise as [`TermsRequired`].
    ///
    /// [`TermsRequired`]: ConsentPolicy::TermsRequired
    AgentMayStart,
}

impl ConsentPolicy {
    /// The policy's name (`terms_required`, `agent_may_start`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsentPolicy::TermsRequired => "terms_required",
            ConsentPolicy::AgentMayStart => "agent_may_start",
        }
    }
}

/// The SDK core's configuration: durations of its timers (spec.md §7), every one at least
/// 1 ms, the consent policy and the visitor-id limits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SdkConfig {
    /// How long `init_visitor` waits for the settings lookup before using defaults.
    pub init_timeout: Duration,
    /// How long `start_session` waits for the server.
    pub start_timeout: Duration,
    /// How long `end_session` waits for the server's confirmation.
    pub end_timeout: Duration,
    /// How long a session survives with the link down.
    pub session_grace: Duration,
    /// How long `presence_connect` waits for an answer.
    pub presence_connect_timeout: Duration,
    /// First presence retry delay; doubles per failure.
    pub presence_backoff_base: Duration,
    /// Longest presence retry delay.
    pub presence_backoff_max: Duration,
    /// First reconnect delay while the link is down; doubles per attempt.
    pub reconnect_backoff_base: Duration,
    /// Longest reconnect delay.
    pub reconnect_backoff_max: Duration,
    /// How long the app may stay in the background before the SDK suspends presence.
    pub background_suspend: Duration,
    /// Random key length when the settings lookup failed.
    pub default_key_length: u8,
    /// Whether an agent may start a session without the terms dialog (default: no).
    #[serde(default)]
    pub consent_policy: ConsentPolicy,
    /// The visitor-id limits (default: [`Limits::Glance5`]).
    #[serde(default)]
    pub limits: Limits,
}

impl Default for SdkConfig {
    fn default() -> Self {
        SdkConfig::DEFAULT
    }
}

impl SdkConfig {
    /// The defaults, as a constant: cores on the default configuration share one copy.
    pub(crate) const DEFAULT: SdkConfig = SdkConfig {
        init_timeout: Duration::from_secs(10),
        start_timeout: Duration::from_secs(15),
        end_timeout: Duration::from_secs(5),
        session_grace: Duration::from_secs(60),
        presence_connect_timeout: Duration::from_secs(10),
        presence_backoff_base: Duration::from_secs(1),
        presence_backoff_max: Duration::from_secs(30),
        reconnect_backoff_base: Duration::from_secs(1),
        reconnect_backoff_max: Duration::from_secs(16),
        background_suspend: Duration::from_secs(60),
        default_key_length: 4,
        consent_policy: ConsentPolicy::TermsRequired,
        limits: Limits::Glance5,
    };
}

impl SdkConfig {
    /// The same configuration with every duration raised to at least 1 ms, so that no timer
    /// can fire at the instant that armed it.
    pub(crate) fn sanitized(mut self) -> Self {
        let min = Duration::from_millis(1);
        for d in [
            &mut self.init_timeout,
            &mut self.start_timeout,
            &mut self.end_timeout,
            &mut self.session_grace,
            &mut self.presence_connect_timeout,
            &mut self.presence_backoff_base,
            &mut self.presence_backoff_max,
            &mut self.reconnect_backoff_base,
            &mut self.reconnect_backoff_max,
            &mut self.background_suspend,
        ] {
            *d = (*d).max(min);
        }
        self.default_key_length = self
            .default_key_length
            .clamp(1, crate::frames::MAX_RANDOM_KEY);
        self
    }
}

/// The configuration in force: the default one, shared by every core that uses it (so it
/// costs a visitor nothing), or a custom one, boxed.
#[derive(Clone)]
pub(crate) enum Config {
    Default,
    Custom(Box<SdkConfig>),
}

static DEFAULT_CONFIG: SdkConfig = SdkConfig::DEFAULT;

impl Config {
    pub(crate) fn new(config: SdkConfig) -> Config {
        if config == SdkConfig::DEFAULT {
            Config::Default
        } else {
            Config::Custom(Box::new(config))
        }
    }
}

impl std::ops::Deref for Config {
    type Target = SdkConfig;

    fn deref(&self) -> &SdkConfig {
        match self {
            Config::Default => &DEFAULT_CONFIG,
            Config::Custom(c) => c,
        }
    }
}

/// Prints as the [`SdkConfig`] it stands for.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        SdkConfig::fmt(self, f)
    }
}
