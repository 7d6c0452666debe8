//! A test hook: simulated crashes at named points of a command.

/// The environment variable naming the crash point to stop at.
pub const CRASH_AT_VAR: &str = "CLAWKEEP_TEST_CRASH_AT";

/// Abort the process (as a crash or power loss would stop it, with no cleanup) when `CLAWKEEP_TEST_CRASH_AT`
/// equals `label`. A test hook, compiled into every build: it lets the durability tests stop a command between
/// two writes and check what is left. Unset (always, in normal use), it does nothing.
pub fn crash_point(label: &str) {
    if std::env::var_os(CRASH_AT_VAR).is_some_and(|v| v == label) {
        std::process::abort();
    }
}
