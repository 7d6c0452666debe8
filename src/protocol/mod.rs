//! Bytes on the wire. For now: OpenClaw's exec SecretRef provider protocol v1 (`clawkeep resolve`).

pub mod exec;
