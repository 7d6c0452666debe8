//! Operations: what the commands (and later the service) do, expressed over the vault and OpenClaw's files.
//! Nothing here prints or prompts; results come back as values for `cli/` to render.

pub mod custody;
pub mod doctor;
pub mod init;
pub mod migrate;
pub mod monitor;
pub mod profile;
pub mod resolve;
pub mod select;
pub mod session;
pub mod status;
pub use crate::openclaw::wire;
