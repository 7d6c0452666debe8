//! Safe files. Only this module writes or opens files: the one checked read (`read`), permission and ownership checks, atomic writes, checked appends (`append`, for the access log), the vault lock.

mod append;
mod atomic;
mod crash;
pub mod fault;
// The lock files are opened for writing (and OpenClaw's read for its owner pid): not secret reads.
#[allow(clippy::disallowed_methods)]
mod lock;
#[allow(clippy::disallowed_methods)]
mod openclaw_lock;
mod read;
mod safe;

pub use append::{AppendFile, read_tail};
pub use atomic::{remove_file, write_atomic, write_json};
pub use crash::{CRASH_AT_VAR, crash_point};
pub use lock::VaultLock;
pub use openclaw_lock::OpenClawLock;
pub use read::{MAX_FILE, list_names, open_checked, read_optional, read_private, read_proc};
pub use safe::{Problem, check_dir, check_file, ensure_private_dir, euid, fix_for, inspect, repair};
