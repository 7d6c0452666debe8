//! Wire protocols: OpenClaw's exec SecretRef provider protocol ([`exec`]) and the vault service's own
//! ([`wire`], with its blocking [`client`]).

pub mod client;
pub mod exec;
pub mod wire;
