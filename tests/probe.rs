//! `models status --probe` against stand-in provider APIs on 127.0.0.1 (no outside network): each class of answer,
//! the request each provider gets, base URLs from the environment and `openclaw.json`, and the faults.
#![allow(clippy::disallowed_methods)] // tests write their fixtures directly

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::service::Service;
use common::{Env, setup_token};
use serde_json::{Value, json};

const ANTHROPIC_KEY: &str = "sk-ant-api03-PROBE-canary-0123456789abcdef";
const OPENAI_KEY: &str = "sk-proj-PROBE-canary-0123456789abcdef";
const OPENROUTER_KEY: &str = "sk-or-v1-PROBE-canary-0123456789abcdef";

/// What a stand-in answers.
#[derive(Clone)]
enum Answer {
    /// Status, extra headers, body (sent as JSON).
    Http(u16, Vec<(&'static str, String)>, String),
    /// Headers at once, then the body one byte every 300 ms.
    SlowDrip,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 server on 127.0.0.1 answering every request the same way.
struct StandIn {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn serve_one(mut s: TcpStream, answer: &Answer, seen: &Mutex<Vec<Seen>>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    if r.read_line(&mut first).is_err() || first.is_empty() {
        return;
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).is_err() || l.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = l.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    seen.lock().unwrap().push(Seen { method, path, headers, body: String::from_utf8_lossy(&body).into() });
    match answer {
        Answer::Http(status, extra, body) => {
            let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
            if !extra.iter().any(|(k, _)| *k == "content-type") {
                head.push_str("content-type: application/json\r\n");
            }
            for (k, v) in extra {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
        }
        Answer::SlowDrip => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n");
            for _ in 0..30 {
                if s.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    }
}

impl StandIn {
    fn start(answer: Answer) -> StandIn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (a, seen) = (answer.clone(), s2.clone());
                std::thread::spawn(move || serve_one(s, &a, &seen));
            }
        });
        StandIn { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn json_answer(status: u16, body: &str) -> Answer {
    Answer::Http(status, vec![], body.to_string())
}

fn env_with(profiles: &[(&str, &str, &str, &str)]) -> Env {
    let env = Env::new();
    env.init_file();
    for (cmd, provider, id, secret) in profiles {
        let o = env.run(&["models", "auth", cmd, "--provider", provider, "--profile-id", id], secret);
        assert_eq!(o.code, 0, "{o:?}");
    }
    env
}

fn probe(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["models", "status", "--probe", "--json", "--probe-timeout", "2s"];
    all.extend_from_slice(args);
    let mut c = env.cmd(&all);
    for (k, v) in vars {
        c.env(k, v);
    }
    let o = common::run_cmd(&mut c, "");
    for secret in [ANTHROPIC_KEY, OPENAI_KEY, OPENROUTER_KEY] {
        assert!(!o.stdout.contains(secret) && !o.stderr.contains(secret), "{o:?}");
    }
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|_| panic!("{o:?}"));
    (o.code, v, o.stderr)
}

fn class_of(v: &Value, profile: &str) -> Value {
    v["probes"].as_array().unwrap().iter().find(|p| p["profile"] == profile).cloned().unwrap_or(Value::Null)
}

const CLAUDE_CODE_ONLY: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"This credential is only authorized for use with Claude Code and cannot be used for other API requests."}}"#;

#[test]
fn each_provider_gets_its_request_and_each_answer_its_class() {
    let token = setup_token("probe");
    let env = env_with(&[
        ("add", "anthropic", "anthropic:key", ANTHROPIC_KEY),
        ("paste-token", "anthropic", "anthropic:sub", &token),
        ("add", "openai", "openai:default", OPENAI_KEY),
        ("add", "openrouter", "openrouter:default", OPENROUTER_KEY),
    ]);
    // Anthropic: the key is valid (model list), the setup-token is Claude-Code-only (one-token request).
    let anthropic = StandIn::start(json_answer(200, r#"{"data":[{"id":"claude-x"}]}"#));
    let openai = StandIn::start(json_answer(401, r#"{"error":{"message":"Incorrect API key provided"}}"#));
    let openrouter = StandIn::start(Answer::Http(429, vec![("retry-after", "30".into())], "{}".into()));
    let vars = [
        ("ANTHROPIC_BASE_URL", anthropic.base.as_str()),
        ("OPENAI_BASE_URL", &format!("{}/v1", openai.base)),
        ("OPENROUTER_BASE_URL", &format!("{}/api/v1", openrouter.base)),
    ];
    let (code, v, _) = probe(
        &env,
        &vars,
        &[
            "--probe-profile",
            "anthropic:key",
            "--probe-profile",
            "openai:default",
            "--probe-profile",
            "openrouter:default",
        ],
    );
    assert_eq!(class_of(&v, "anthropic:key")["class"], "valid", "{v}");
    assert_eq!(class_of(&v, "openai:default")["class"], "rejected", "{v}");
    assert_eq!(class_of(&v, "openai:default")["status"], 401);
    assert_eq!(class_of(&v, "openrouter:default")["class"], "rate_limited", "{v}");
    assert_eq!(class_of(&v, "openrouter:default")["retryAfter"], "30");
    assert_eq!(code, 1, "a rejected key fails the check: {v}");
    let a = &anthropic.seen()[0];
    assert_eq!((a.method.as_str(), a.path.as_str()), ("GET", "/v1/models?limit=1"));
    assert_eq!(a.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert!(a.header("anthropic-version").is_some());
    let o = &openai.seen()[0];
    assert_eq!((o.method.as_str(), o.path.as_str()), ("GET", "/v1/models"));
    assert_eq!(o.header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
    let r = &openrouter.seen()[0];
    assert_eq!(r.path, "/api/v1/key");
    assert_eq!(r.header("authorization"), Some(format!("Bearer {OPENROUTER_KEY}").as_str()));

    // The setup-token gets a one-token request and the Claude-Code-only answer, with the advice.
    let cc = StandIn::start(json_answer(400, CLAUDE_CODE_ONLY));
    let (code, v, _) = probe(&env, &[("ANTHROPIC_BASE_URL", &cc.base)], &["--probe-profile", "anthropic:sub"]);
    let p = class_of(&v, "anthropic:sub");
    assert_eq!(p["class"], "claude_code_only", "{v}");
    assert!(p["detail"].as_str().unwrap().contains("API key"), "{p}");
    assert_eq!(code, 1);
    let s = &cc.seen()[0];
    assert_eq!((s.method.as_str(), s.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(s.header("authorization"), Some(format!("Bearer {token}").as_str()));
    let body: Value = serde_json::from_str(&s.body).unwrap();
    assert_eq!(body["max_tokens"], 1);

    // Only rate limits: exit 2. All valid: exit 0.
    let (code, _, _) = probe(&env, &vars, &["--probe-profile", "openrouter:default"]);
    assert_eq!(code, 2);
    let (code, _, _) = probe(&env, &vars, &["--probe-profile", "anthropic:key"]);
    assert_eq!(code, 0);

    // Each hand-out for a probe is in the access log, with a fingerprint, never the value.
    let log = std::fs::read_to_string(env.ck().join("audit").join("access-000001.log")).unwrap();
    assert!(
        log.contains(r#""op":"probe","via":"cli","agent":"main","profile":"anthropic:key","outcome":"ok","fp":""#),
        "{log}"
    );
    assert!(!log.contains(ANTHROPIC_KEY) && !log.contains(&token));
}

#[test]
fn the_base_url_comes_from_openclaw_json_when_the_environment_has_none() {
    let env = env_with(&[("add", "openai", "openai:default", OPENAI_KEY)]);
    let s = StandIn::start(json_answer(200, r#"{"data":[]}"#));
    common::write_private(
        &env.state.join("openclaw.json"),
        &format!(r#"{{ models: {{ providers: {{ openai: {{ baseUrl: "{}/v1" }} }} }} }}"#, s.base),
    );
    let (code, v, _) = probe(&env, &[], &[]);
    assert_eq!(class_of(&v, "openai:default")["class"], "valid", "{v}");
    assert_eq!(code, 0);
    assert_eq!(s.seen().len(), 1);
    // Bad input: an unknown profile, a bad timeout, --check with --probe.
    let o = env.run(&["models", "status", "--probe-profile", "openai:nope"], "");
    assert_eq!(o.code, 66, "{o:?}");
    let o = env.run(&["models", "status", "--probe", "--probe-timeout", "0s"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("--probe-timeout"), "{o:?}");
    assert_eq!(env.run(&["models", "status", "--probe", "--check"], "").code, 64);
    assert_eq!(s.seen().len(), 1, "nothing was sent");
}

#[test]
fn faults_are_classified_and_never_hang() {
    let env = env_with(&[("add", "openai", "openai:default", OPENAI_KEY)]);
    let check = |answer: Option<Answer>, base_of: &dyn Fn(&str) -> String| {
        let s = answer.map(StandIn::start);
        let base = s.as_ref().map_or_else(
            || {
                // A port nobody listens on.
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let b = format!("http://{}", l.local_addr().unwrap());
                drop(l);
                b
            },
            |s| s.base.clone(),
        );
        let t = std::time::Instant::now();
        let (code, v, _) = probe(&env, &[("OPENAI_BASE_URL", &base_of(&base))], &[]);
        assert!(t.elapsed() < Duration::from_secs(8), "the probe's timeout holds");
        assert_eq!(code, 1, "{v}");
        (class_of(&v, "openai:default"), s.map(|s| s.seen().len()))
    };
    let plain = |b: &str| format!("{b}/v1");
    let (p, _) = check(Some(json_answer(200, "<html>not json</html>")), &plain);
    assert_eq!((p["class"].as_str(), p["status"].as_u64()), (Some("unexpected"), Some(200)), "{p}");
    let (p, _) = check(Some(json_answer(500, "oops")), &plain);
    assert_eq!(p["class"], "unexpected", "{p}");
    // A redirect to another host is refused: nothing is sent there, and the credential is not re-sent anywhere.
    let (p, n) = check(
        Some(Answer::Http(302, vec![("location", "http://elsewhere.invalid/v1/models".into())], String::new())),
        &plain,
    );
    assert_eq!(p["class"], "unexpected", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("another host, refused"), "{p}");
    assert_eq!(n, Some(1));
    // A slow-drip server: the whole request is bounded by the timeout.
    let (p, _) = check(Some(Answer::SlowDrip), &plain);
    assert_eq!(p["class"], "unreachable", "{p}");
    // Nobody listening.
    let (p, _) = check(None, &plain);
    assert_eq!(p["class"], "unreachable", "{p}");
    // TLS to a server that speaks plain HTTP.
    let (p, _) = check(Some(json_answer(200, "{}")), &|b: &str| format!("{}/v1", b.replace("http://", "https://")));
    assert_eq!(p["class"], "unreachable", "{p}");
    assert!(p["why"].as_str().unwrap().to_lowercase().contains("tls"), "{p}");
    // Plain http to a host that is not loopback is refused before anything is sent.
    let (code, v, _) = probe(&env, &[("OPENAI_BASE_URL", "http://192.0.2.1/v1")], &[]);
    assert_eq!(code, 1);
    assert!(class_of(&v, "openai:default")["detail"].as_str().unwrap().contains("only https"), "{v}");
}

#[test]
fn with_the_service_running_the_probe_gets_its_secret_from_it_and_the_service_logs_it() {
    let env = env_with(&[("add", "openai", "openai:default", OPENAI_KEY)]);
    let svc = Service::start(&env, &["--unlock"]);
    let s = StandIn::start(json_answer(200, r#"{"data":[]}"#));
    let base = format!("{}/v1", s.base);
    let (code, v, _) =
        probe(&env, &[("OPENAI_BASE_URL", &base), ("CLAWKEEP_SOCKET", svc.socket.to_str().unwrap())], &[]);
    assert_eq!((code, class_of(&v, "openai:default")["class"].as_str()), (0, Some("valid")), "{v}");
    assert_eq!(s.seen()[0].header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
    let text = std::fs::read_to_string(env.ck().join("audit").join("access-000001.log")).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!((last["op"].as_str(), last["via"].as_str()), (Some("get"), Some("service")), "{last}");
    assert_eq!(last["who"]["cmdline"].as_array().unwrap()[1..4], [json!("models"), json!("status"), json!("--probe")]);
    assert!(svc.log_text().contains("handed out"));
}

/// Whether `text` holds the secret or any 12-character piece of it.
fn quotes(text: &str, secret: &str) -> bool {
    let s = secret.as_bytes();
    s.windows(12.min(s.len())).any(|w| text.as_bytes().windows(w.len()).any(|t| t == w))
}

#[test]
fn the_probed_key_never_appears_in_the_output_even_when_the_provider_echoes_it() {
    let token = setup_token("echo");
    let env = env_with(&[
        ("add", "openai", "openai:default", OPENAI_KEY),
        ("paste-token", "anthropic", "anthropic:sub", &token),
    ]);
    let long = "x".repeat(140);
    // Stand-ins that quote back what they were sent, in every place an answer has room for it.
    let echoes = |k: &str| {
        vec![
            json_answer(400, &json!({"error":{"message":format!("Incorrect API key provided: {k}")}}).to_string()),
            json_answer(500, &json!({"error":{"message":format!("{long} {k}")}}).to_string()),
            json_answer(418, &json!({"error":format!("bad key {k}")}).to_string()),
            json_answer(401, &json!({"error":{"message":format!("invalid key {k}")}}).to_string()),
            Answer::Http(429, vec![("retry-after", k.to_string())], format!(r#"{{"error":"{k}"}}"#)),
            Answer::Http(200, vec![("content-type", "text/plain".into()), ("x-echo", k.into())], k.to_string()),
            Answer::Http(302, vec![("location", format!("/v1/models?key={k}"))], k.to_string()),
            json_answer(400, &format!(r#"{{"error":{{"message":"only authorized for use with Claude Code: {k}"}}}}"#)),
        ]
    };
    let mut classes = std::collections::BTreeSet::new();
    for (profile, var, suffix, secret) in [
        ("openai:default", "OPENAI_BASE_URL", "/v1", OPENAI_KEY),
        ("anthropic:sub", "ANTHROPIC_BASE_URL", "", token.as_str()),
    ] {
        for answer in echoes(secret) {
            let s = StandIn::start(answer);
            let base = format!("{}{suffix}", s.base);
            for json in [true, false] {
                let mut args = vec!["models", "status", "--probe-profile", profile, "--probe-timeout", "2s"];
                if json {
                    args.push("--json");
                }
                let mut c = env.cmd(&args);
                c.env(var, &base);
                let o = common::run_cmd(&mut c, "");
                assert!(matches!(o.code, 1 | 2), "{o:?}");
                assert!(!quotes(&o.stdout, secret) && !quotes(&o.stderr, secret), "the probe printed the credential");
                if json {
                    let v: Value = serde_json::from_str(&o.stdout).unwrap();
                    classes.insert(class_of(&v, profile)["class"].as_str().unwrap().to_string());
                }
            }
            // The stand-in did get the credential, so an echo was possible.
            assert!(s.seen().iter().all(|r| r.headers.iter().any(|(_, v)| v.contains(secret))));
        }
    }
    // Every kind of answer that carries the provider's words was exercised.
    for class in ["unexpected", "rejected", "rate_limited", "claude_code_only"] {
        assert!(classes.contains(class), "{classes:?}");
    }
    for (path, bytes) in env.all_files() {
        assert!(!quotes(&String::from_utf8_lossy(&bytes), OPENAI_KEY), "{}", path.display());
    }
}
