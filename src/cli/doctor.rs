//! `doctor`.

use clawkeep::Result;
use clawkeep::error::exit;
use clawkeep::ops::doctor::{self, Severity};
use clawkeep::paths::Paths;

use super::output;

pub fn run(paths: &Paths, agent: Option<String>, fix: bool, json: bool) -> Result<i32> {
    let agents = super::agents_or_all(paths, agent)?;
    let report = doctor::run(paths, &agents, fix, clawkeep::vault::now_ms());
    let code = if report.failed() { exit::CHECK_FAILED } else { exit::OK };
    if json {
        output::json(&serde_json::json!({ "ok": code == exit::OK, "findings": report.findings }));
        return Ok(code);
    }
    if report.findings.is_empty() {
        println!("all good: {} checked", agents.join(", "));
    }
    for f in &report.findings {
        let tag = match (f.fixed, f.severity) {
            (true, _) => "fixed",
            (false, Severity::Error) => "error",
            (false, Severity::Warning) => "warn",
            (false, Severity::Info) => "info",
        };
        println!("[{tag}] {}: {}", f.code, f.message);
        if !f.fixed
            && let Some(fix) = &f.fix
        {
            println!("        fix: {fix}");
        }
    }
    Ok(code)
}
