//! The SDK core's configuration: the durations of its timers (spec.md §7).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Durations of the SDK core's timers (spec.md §7). Every one is at least 1 ms.
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
