//! Safe files. Only this module writes files: permission and ownership checks, atomic writes, the vault lock.

mod atomic;
pub mod fault;
mod lock;
mod openclaw_lock;
mod safe;

pub use atomic::{read_optional, remove_file, write_atomic, write_json};
pub use lock::VaultLock;
pub use openclaw_lock::OpenClawLock;
pub use safe::{Problem, check_dir, check_file, ensure_private_dir, euid, fix_for, inspect, repair};
