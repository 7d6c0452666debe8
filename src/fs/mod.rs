//! Safe files. Only this module writes files: permission and ownership checks, atomic writes, the vault lock.

mod atomic;
mod crash;
mod lock;
mod openclaw_lock;
mod safe;

pub use atomic::{read_optional, write_atomic, write_json};
pub use crash::{CRASH_AT_VAR, crash_point};
pub use lock::VaultLock;
pub use openclaw_lock::OpenClawLock;
pub use safe::{Problem, check_dir, check_file, ensure_private_dir, euid, fix_for, inspect, repair};
