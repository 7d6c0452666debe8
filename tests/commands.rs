//! `exec`, `model-command`, `openclaw wire`, openclaw.json profile metadata and the auth monitor with its unit.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Env, json, setup_token, write_private};

const KEY: &str = "sk-ant-api03-COMMANDS-canary-key-0123456789";

fn with_key() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    env
}

#[test]
fn exec_puts_secrets_in_the_child_environment_and_replaces_itself() {
    let env = with_key();
    let out = env.dir.path().join("child.out");
    // --provider: the next profile by OpenClaw's rules, under ANTHROPIC_API_KEY.
    let script = format!("printf '%s|%s|%s' \"$ANTHROPIC_API_KEY\" \"$MY_VAR\" \"$$\" > {}", out.display());
    let mut c = env.cmd(&[
        "exec",
        "--provider",
        "anthropic",
        "--profile",
        "anthropic:default=MY_VAR",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "exec prints nothing itself: {o:?}");
    let got = std::fs::read_to_string(&out).unwrap();
    assert_eq!(got, format!("{KEY}|{KEY}|{pid}"), "same pid: clawkeep was replaced by the command (execve)");
    // The selection was recorded like the service's.
    let state = json(&env.agent_dir("main").join("auth-state.json"));
    assert!(state["usageStats"]["anthropic:default"]["lastUsed"].as_i64().unwrap() > 0);

    // Bad input: unknown profile, token without a variable name, bad variable name, missing command.
    let o = env.run(&["exec", "--profile", "anthropic:nope", "--", "true"], "");
    assert_eq!(o.code, 66, "{o:?}");
    let o = env.run(&["models", "auth", "paste-token", "--provider", "anthropic"], &setup_token("EXEC"));
    assert_eq!(o.code, 0, "{o:?}");
    // --provider fills an API-key variable: it picks among api_key profiles even though a token ranks first.
    let o = env.run(&["exec", "--provider", "anthropic", "--", "sh", "-c", "printf %s \"$ANTHROPIC_API_KEY\""], "");
    assert_eq!((o.code, o.stdout.as_str()), (0, KEY), "{o:?}");
    // The child gets the user's core-dump limit back (clawkeep itself runs with 0).
    let c = env.cmd(&["exec", "--profile", "anthropic:default", "--", "sh", "-c", "ulimit -c"]);
    let mut wrapped = std::process::Command::new("prlimit");
    wrapped.args(["--core=unlimited", "--", env!("CARGO_BIN_EXE_clawkeep")]);
    wrapped.args(c.get_args()).env_clear().envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let o = common::run_cmd(&mut wrapped, "");
    assert_eq!((o.code, o.stdout.trim()), (0, "unlimited"), "{o:?}");
    let o = env.run(&["exec", "--profile", "anthropic:manual", "--", "true"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("anthropic:manual=VAR_NAME"), "{o:?}");
    let o = env.run(&["exec", "--profile", "anthropic:default=1BAD", "--", "true"], "");
    assert_eq!(o.code, 65, "{o:?}");
    let o = env.run(&["exec", "--profile", "anthropic:default", "--", "/nonexistent/prog"], "");
    assert_eq!(o.code, 80, "{o:?}");
    for s in [&o.stdout, &o.stderr] {
        assert!(!s.contains(KEY));
    }
    let o = env.run(&["exec", "--", "true"], "");
    assert_eq!(o.code, 65, "{o:?}");
}

#[test]
fn model_command_pins_lists_and_explains() {
    let env = with_key();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--profile-id", "anthropic:work"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-MC-1").code, 0);
    write_private(
        &env.state.join("openclaw.json"),
        "// JSON5 config\n{ models: { providers: { anthropic: { baseUrl: 'http://127.0.0.1:9/x' } } } }\n",
    );
    let mc = |text: &str| env.run(&["model-command", "--session", "s-1", text], "");
    let o = mc("/model");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("no pin"), "{o:?}");
    let o = mc("/model opus@anthropic:work");
    assert_eq!(o.code, 0, "{o:?}");
    let pins = json(&env.ck().join("sessions.json"));
    assert_eq!(pins["sessions"]["s-1"]["profile"], "anthropic:work");
    assert_eq!(pins["sessions"]["s-1"]["model"], "opus");
    assert_eq!(pins["sessions"]["s-1"]["provider"], "anthropic");
    let o = mc("/model status");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("next: anthropic:work"), "{}", o.stdout);
    assert!(o.stdout.contains("pinned"), "{}", o.stdout);
    assert!(o.stdout.contains("endpoint http://127.0.0.1:9/x"), "{}", o.stdout);
    assert!(o.stdout.contains("store: clawkeep:file"), "{}", o.stdout);
    let (a, b) = (o.stdout.find("anthropic: order").unwrap(), o.stdout.find("openai: order").unwrap());
    assert!(a < b, "the pinned provider first, the others still shown: {}", o.stdout);
    let o = mc("/model list");
    assert!(o.stdout.contains("anthropic:default") && o.stdout.contains("[pinned]"), "{}", o.stdout);
    // Cooldowns show up in /model status.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    write_private(
        &env.agent_dir("main").join("auth-state.json"),
        &format!(
            "{{\"version\":1,\"usageStats\":{{\"anthropic:work\":{{\"cooldownUntil\":{},\"cooldownReason\":\"rate_limit\"}}}}}}",
            now + 90_000
        ),
    );
    let o = mc("/model status");
    assert!(o.stdout.contains("next: anthropic:default"), "{}", o.stdout);
    assert!(o.stdout.contains("cooldown 1m (rate_limit)"), "{}", o.stdout);
    let o = mc("/model reset");
    assert_eq!(o.code, 0);
    assert!(json(&env.ck().join("sessions.json"))["sessions"].get("s-1").is_none());
    // Bad input.
    assert_eq!(mc("/model opus@anthropic:ghost").code, 66);
    assert_eq!(mc("/models").code, 65);
    assert_eq!(env.run(&["model-command", "--session", "bad id!", "/model"], "").code, 65);
    for o in [mc("/model status"), mc("/model list")] {
        assert!(!o.stdout.contains(KEY) && !o.stderr.contains(KEY));
    }
}

#[test]
fn openclaw_wire_keeps_settings_backs_up_and_checks_the_binary() {
    let env = Env::new();
    let cfg = env.state.join("openclaw.json");
    let original =
        "// my gateway\n{\n  gateway: { port: 18789 },\n  secrets: { providers: { other: { source: 'env' } } },\n}\n";
    write_private(&cfg, original);
    let bin = env!("CARGO_BIN_EXE_clawkeep");

    // --dry-run changes nothing, and shows only clawkeep's entry (the rest may hold plaintext keys).
    let with_key =
        original.replace("gateway:", "models: { providers: { x: { apiKey: 'sk-DRYRUN-plaintext' } } },\n  gateway:");
    write_private(&cfg, &with_key);
    let o = env.run(&["openclaw", "wire", "--dry-run"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("\"jsonOnly\": true"), "{o:?}");
    assert!(!o.stdout.contains("DRYRUN") && !o.stderr.contains("DRYRUN"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), with_key);
    write_private(&cfg, original);

    let o = env.run(&["openclaw", "wire", "--pass-env", "EXTRA_VAR"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let c = json(&cfg);
    let p = &c["secrets"]["providers"]["clawkeep"];
    assert_eq!(p["source"], "exec");
    assert_eq!(p["command"], std::fs::canonicalize(bin).unwrap().to_str().unwrap());
    assert_eq!(p["args"], serde_json::json!(["resolve"]));
    assert_eq!(p["jsonOnly"], true);
    let pass_env: Vec<&str> = p["passEnv"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for name in ["HOME", "CLAWKEEP_SOCKET", "XDG_RUNTIME_DIR", "EXTRA_VAR"] {
        assert!(pass_env.contains(&name), "{pass_env:?}");
    }
    assert_eq!(c["gateway"]["port"], 18789, "other settings kept");
    assert_eq!(c["secrets"]["providers"]["other"]["source"], "env");
    assert_eq!(
        std::fs::read_to_string(env.state.join("openclaw.json.clawkeep.bak")).unwrap(),
        original,
        "no literal key: kept byte for byte"
    );
    assert!(o.stderr.contains("JSON5"), "the user is told comments are not kept: {o:?}");

    // Again: nothing changes, the user's tuning of the entry is kept.
    let mut c = json(&cfg);
    c["secrets"]["providers"]["clawkeep"]["timeoutMs"] = serde_json::json!(3000);
    write_private(&cfg, &serde_json::to_string_pretty(&c).unwrap());
    let o = env.run(&["openclaw", "wire", "--pass-env", "EXTRA_VAR"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing changed"), "{o:?}");
    assert_eq!(json(&cfg)["secrets"]["providers"]["clawkeep"]["timeoutMs"], 3000);

    // A binary OpenClaw would refuse: group-writable copy, symlink. Exit 77, config untouched.
    let before = std::fs::read(&cfg).unwrap();
    let copy = env.dir.path().join("clawkeep-copy");
    std::fs::copy(bin, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o775)).unwrap();
    let o = env.run(&["openclaw", "wire", "--binary", copy.to_str().unwrap()], "");
    assert_eq!(o.code, 77, "{o:?}");
    assert!(o.stderr.contains("chmod go-w"), "{o:?}");
    let link = env.dir.path().join("clawkeep-link");
    std::os::unix::fs::symlink(bin, &link).unwrap();
    let o = env.run(&["openclaw", "wire", "--binary", link.to_str().unwrap()], "");
    assert_eq!(o.code, 77, "{o:?}");
    assert!(o.stderr.contains("symlink"), "{o:?}");
    assert_eq!(std::fs::read(&cfg).unwrap(), before);

    // A malformed config: named with line and column, exit 65, untouched, no source text echoed.
    write_private(&cfg, "{ models: { apiKey: 'sk-SECRET-in-config' ,, } }\n");
    let o = env.run(&["openclaw", "wire"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("openclaw.json") && o.stderr.contains("line 1"), "{o:?}");
    assert!(!o.stderr.contains("sk-SECRET"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "{ models: { apiKey: 'sk-SECRET-in-config' ,, } }\n");

    // No config yet: created.
    let env2 = Env::new();
    let o = env2.run(&["openclaw", "wire"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(json(&env2.state.join("openclaw.json"))["secrets"]["providers"]["clawkeep"]["jsonOnly"], true);
}

#[test]
fn paste_token_and_add_record_profile_metadata_in_openclaw_json() {
    let env = Env::new();
    env.init_file();
    // Without openclaw.json nothing is created.
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-META-1").code, 0);
    assert!(!env.state.join("openclaw.json").exists());
    let cfg = env.state.join("openclaw.json");
    write_private(&cfg, "{ gateway: { port: 1 } }\n");
    let o = env.run(&["models", "auth", "paste-token", "--provider", "anthropic"], &setup_token("META"));
    assert_eq!(o.code, 0, "{o:?}");
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    let c = json(&cfg);
    assert_eq!(c["auth"]["profiles"]["anthropic:manual"], serde_json::json!({"provider":"anthropic","mode":"token"}));
    assert_eq!(
        c["auth"]["profiles"]["anthropic:default"],
        serde_json::json!({"provider":"anthropic","mode":"api_key"})
    );
    assert_eq!(c["gateway"]["port"], 1);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(!text.contains(KEY) && !text.contains("META"), "metadata only, never the secret");
    let o = env.run(&["models", "auth", "remove", "anthropic:manual"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(json(&cfg)["auth"]["profiles"].get("anthropic:manual").is_none());

    // A broken openclaw.json: add and remove are refused before anything is written or removed.
    write_private(&cfg, "{ auth: ");
    let before = env.snapshot();
    let o = env.run(&["models", "auth", "add", "--provider", "openrouter"], "sk-or-v1-META-2");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("openclaw.json"), "{o:?}");
    let o = env.run(&["models", "auth", "remove", "anthropic:default"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert_eq!(before, env.snapshot());
}

/// `ExecStart=` of a unit file, with `%h` expanded and the installed binary replaced by the built one.
fn exec_start(unit: &str, home: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(unit)).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    line.replace("%h/.cargo/bin/clawkeep", env!("CARGO_BIN_EXE_clawkeep"))
        .replace("%h", home.to_str().unwrap())
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn the_auth_monitor_unit_notifies_once_per_problem_per_hour() {
    let env = Env::new();
    env.init_file();
    let o = env
        .run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "5h"], &setup_token("MON"));
    assert_eq!(o.code, 0, "{o:?}");
    // The timer: 5 min after boot, then every 30 min; the service runs the monitor and treats 1/2 as reported.
    let timer =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/clawkeep-monitor.timer"))
            .unwrap();
    assert!(timer.lines().any(|l| l == "OnBootSec=5min") && timer.lines().any(|l| l == "OnUnitActiveSec=30min"));
    let unit =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/clawkeep-monitor.service"))
            .unwrap();
    assert!(unit.contains("SuccessExitStatus=1 2"));
    let argv = exec_start("contrib/systemd/clawkeep-monitor.service", &env.home);
    let notified = env.dir.path().join("notified.txt");
    let run = || {
        let mut c = std::process::Command::new(&argv[0]);
        c.args(&argv[1..]).env_clear().env("PATH", std::env::var("PATH").unwrap()).env("HOME", &env.home).env(
            "CLAWKEEP_NOTIFY_CMD",
            format!("cat >> {}; echo \"env:$CLAWKEEP_NOTIFY_MESSAGE\" >> {}", notified.display(), notified.display()),
        );
        common::run_cmd(&mut c, "")
    };
    let o = run();
    assert_eq!(o.code, 2, "expiring → 2 (as models status --check): {o:?}");
    let text = std::fs::read_to_string(&notified).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.contains("anthropic:manual") && l.contains("expires in")).count(),
        2,
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("env:clawkeep on ")), "{text}");
    assert!(!text.contains("MON"), "the notification never holds the token");
    // Within the hour: not again.
    let o = run();
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.contains("already notified"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&notified).unwrap(), text);
    // A new problem is notified at once; the old one still waits for its hour.
    let o =
        env.run(&["models", "auth", "paste-token", "--provider", "openai", "--expires-in", "1h"], "tok-openai-MON-2");
    assert_eq!(o.code, 0, "{o:?}");
    let o = run();
    assert_eq!(o.code, 2, "{o:?}");
    let after = std::fs::read_to_string(&notified).unwrap();
    let new: Vec<&str> = after.lines().skip(text.lines().count()).collect();
    assert!(new.iter().any(|l| l.contains("openai:manual")), "{after}");
    assert!(!new.iter().any(|l| l.contains("anthropic:manual")), "{after}");
    // An hour later (monitor.json aged by hand) the first problem is notified again.
    let state_path = env.ck().join("monitor.json");
    let mut st = json(&state_path);
    let key = "main/anthropic:manual:expiring";
    st["notified"][key] = serde_json::json!(st["notified"][key].as_i64().unwrap() - 3_600_001);
    write_private(&state_path, &st.to_string());
    run();
    let again = std::fs::read_to_string(&notified).unwrap();
    assert!(again.lines().skip(after.lines().count()).any(|l| l.contains("anthropic:manual")), "{again}");
    // A failing notify command is reported and retried next run (nothing recorded).
    let mut c = std::process::Command::new(&argv[0]);
    c.args(&argv[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", &env.home)
        .env("CLAWKEEP_NOTIFY_CMD", "exit 3");
    std::fs::remove_file(&state_path).unwrap();
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(!state_path.exists());
    // All fine → 0, no notification.
    let env2 = Env::new();
    env2.init_file();
    let o = env2.run(&["monitor", "--notify", "echo should-not-run"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains("should-not-run"));
}

#[test]
fn a_wrong_passphrase_is_tried_once_per_resolve() {
    let env = with_key();
    let bad = env.dir.path().join("bad-pass");
    write_private(&bad, "wrong passphrase here\n");
    let ids: Vec<String> = (0..30).map(|_| "main/anthropic:default".to_string()).collect();
    let mut ids = ids;
    ids.extend((0..29).map(|i| format!("main/anthropic:p{i}")));
    let req = serde_json::json!({"protocolVersion":1,"provider":"clawkeep","ids":ids}).to_string();
    let mut c = env.cmd(&["resolve"]);
    c.env("CLAWKEEP_PASSPHRASE_FILE", &bad);
    let t = std::time::Instant::now();
    let o = common::run_cmd(&mut c, &req);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("\"LOCKED\""), "{o:?}");
    // One argon2id run (~0.1 s), not one per id; OpenClaw kills the provider after 5 s.
    assert!(t.elapsed() < std::time::Duration::from_millis(1500), "{:?}", t.elapsed());
}

#[test]
fn a_profile_id_too_long_for_the_store_is_refused_up_front() {
    let env = Env::new();
    env.init_file();
    let long = format!("anthropic:{}", "x".repeat(150));
    let before = env.snapshot();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--profile-id", &long], KEY);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("profile id too long"), "{o:?}");
    assert_eq!(before, env.snapshot());
    // A long exec id (valid for OpenClaw) simply is not there.
    let id = format!("main/{long}");
    let req = serde_json::json!({"protocolVersion":1,"provider":"clawkeep","ids":[id]}).to_string();
    let o = env.run(&["resolve"], &req);
    assert!(o.stdout.contains("NOT_FOUND"), "{o:?}");
}

#[test]
fn bad_service_flags_and_broken_state_files_are_refused_with_nothing_changed() {
    let env = with_key();
    let sock = env.dir.path().join("run").join("agent.sock");
    let run = |args: &[&str]| {
        let mut c = env.cmd(args);
        c.env("CLAWKEEP_SOCKET", &sock);
        common::run_cmd(&mut c, "")
    };
    let before = env.snapshot();
    for (args, code, needle) in [
        (&["serve", "--ttl", "0"][..], 65, "--ttl"),
        (&["serve", "--idle-timeout", "soon"], 65, "--idle-timeout"),
        (&["serve", "--client-timeout=-1s"], 65, "--client-timeout"),
        (&["unlock", "--ttl", "forever"], 65, "--ttl"),
        (&["unlock"], 81, "no vault service is running"),
        (&["lock"], 81, "no vault service is running"),
        (&["status"], 81, "no vault service is running"),
    ] {
        let o = run(args);
        assert_eq!(o.code, code, "{args:?}: {o:?}");
        assert!(o.stderr.contains(needle), "{args:?}: {o:?}");
    }
    let mut c = env.cmd(&["serve", "--unlock"]);
    c.env("CLAWKEEP_SOCKET", &sock).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("CLAWKEEP_PASSPHRASE_FILE"), "{o:?}");
    assert!(!sock.exists(), "no socket left behind");
    assert_eq!(before, env.snapshot());

    // Broken sessions.json / monitor.json: named, exit 65, left as they were.
    let sessions = env.ck().join("sessions.json");
    write_private(&sessions, "{\"version\":1,\"sessions\":");
    let o = env.run(&["model-command", "--session", "s", "/model opus@anthropic:default"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("sessions.json"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&sessions).unwrap(), "{\"version\":1,\"sessions\":");
    let o = env
        .run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "1h"], &setup_token("BAD"));
    assert_eq!(o.code, 0, "{o:?}");
    let monitor = env.ck().join("monitor.json");
    for bad in ["not json", "{\"version\":2,\"notified\":{}}"] {
        write_private(&monitor, bad);
        let o = env.run(&["monitor", "--notify", "true"], "");
        assert_eq!(o.code, 65, "{bad}: {o:?}");
        assert!(o.stderr.contains("monitor.json"), "{o:?}");
        assert_eq!(std::fs::read_to_string(&monitor).unwrap(), bad);
        assert!(!o.stdout.contains("BAD") && !o.stderr.contains("BAD"));
    }
}

#[test]
fn json_output_to_a_reader_that_goes_away_ends_quietly_and_a_full_disk_is_exit_74() {
    use std::io::Read;
    use std::process::Stdio;
    let env = Env::new();
    env.init_file();
    // 2,000 plaintext profiles: an audit report of about 1 MB, far more than a pipe holds.
    let profiles: serde_json::Map<String, serde_json::Value> = (0..2000)
        .map(|i| {
            let p = serde_json::json!({"type": "api_key", "provider": "openai", "key": format!("sk-pipe-{i:05}-0123456789")});
            (format!("openai:p{i}"), p)
        })
        .collect();
    write_private(&env.auth_profiles(), &serde_json::json!({"version": 1, "profiles": profiles}).to_string());
    // A reader that takes the first 100 bytes and closes the pipe.
    let mut c = env.cmd(&["audit", "--json"]);
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut head = [0u8; 100];
    out.read_exact(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head).starts_with("{\n  \"version\": 1,"), "{}", String::from_utf8_lossy(&head));
    drop(out);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // Standard output on a full disk: said, exit 74 (IO), never a silent success.
    let mut c = env.cmd(&["audit", "--json"]);
    c.stdin(Stdio::null()).stdout(std::fs::File::options().write(true).open("/dev/full").unwrap());
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("could not write the JSON output"), "{stderr}");
    assert!(!stderr.contains("sk-pipe-"), "{stderr}");
}
