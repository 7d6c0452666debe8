//! `<state>/.env`: finds provider API keys so `migrate` can move them into the vault while keeping every other
//! line byte for byte.

use zeroize::Zeroizing;

/// Environment variables that carry provider API keys, and the OpenClaw provider each belongs to.
pub const PROVIDER_ENV: &[(&str, &str)] = &[
    ("ANTHROPIC_API_KEY", "anthropic"),
    ("OPENAI_API_KEY", "openai"),
    ("OPENROUTER_API_KEY", "openrouter"),
    ("GEMINI_API_KEY", "google"),
    ("GOOGLE_API_KEY", "google"),
    ("GROQ_API_KEY", "groq"),
    ("MISTRAL_API_KEY", "mistral"),
    ("XAI_API_KEY", "xai"),
    ("DEEPSEEK_API_KEY", "deepseek"),
    ("TOGETHER_API_KEY", "together"),
    ("CEREBRAS_API_KEY", "cerebras"),
    ("PERPLEXITY_API_KEY", "perplexity"),
    ("MOONSHOT_API_KEY", "moonshot"),
    ("ZAI_API_KEY", "zai"),
];

/// The provider for an environment variable name.
pub fn provider_for_env(name: &str) -> Option<&'static str> {
    PROVIDER_ENV.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// The conventional environment variable for a provider (first match).
pub fn env_for_provider(provider: &str) -> Option<&'static str> {
    PROVIDER_ENV.iter().find(|(_, p)| *p == provider).map(|(n, _)| *n)
}

/// Whether `name` is a usable environment variable name: letters, digits and `_`, not starting with a digit.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// One provider key found in the file.
pub struct EnvKey {
    /// Line number (0-based) in the file.
    pub line: usize,
    /// Variable name.
    pub name: String,
    /// Provider id.
    pub provider: &'static str,
    /// The value, as dotenv reads it.
    pub value: Zeroizing<String>,
}

/// A provider key the reader is not sure it reads as dotenv does: left alone, with the reason.
pub struct Unsure {
    /// Line number (0-based) of the variable.
    pub line: usize,
    /// Variable name.
    pub name: String,
    /// Why it is left alone (never the value).
    pub why: &'static str,
}

/// What `read` found: keys it reads exactly as dotenv, and the ones it leaves alone.
#[derive(Default)]
pub struct Found {
    /// Provider keys read as dotenv reads them (the last assignment of each variable).
    pub keys: Vec<EnvKey>,
    /// Provider keys left alone.
    pub unsure: Vec<Unsure>,
}

/// dotenv 17's line grammar (`lib/main.js`, `LINE`), with JavaScript's `\s`, `\w` and `.` spelled out.
const LINE: &str = concat!(
    r"(?m)(?:^|^)[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*",
    r"(?:export[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]+)?",
    r"([0-9A-Za-z_.-]+)",
    r"(?:[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*=",
    r"[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*?",
    r"|:[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]+?)",
    r"([\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*'(?:\\'|[^'])*'",
    r#"|[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*"(?:\\"|[^"])*""#,
    r"|[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*`(?:\\`|[^`])*`",
    r"|[^#\r\n]+)?",
    r"[\t\n\x0B\x0C\r \u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{feff}]*",
    r"(?:#[^\n\r\u{2028}\u{2029}]*)?(?:$|$)",
);

fn line_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(LINE).expect("dotenv grammar compiles"))
}

/// JavaScript's `\s` (what `String.prototype.trim` removes).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// `value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2')`: strip a quote pair that opens at a line start and closes at
/// a line end (the last such close: the middle is greedy).
fn strip_quotes(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = String::with_capacity(v.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let at_start = i == 0 || b[i - 1] == b'\n';
        if at_start && matches!(b[i], b'\'' | b'"' | b'`') {
            let q = b[i];
            let close = (i + 1..b.len()).rev().find(|&e| b[e] == q && (e + 1 == b.len() || b[e + 1] == b'\n'));
            if let Some(e) = close {
                out.push_str(&v[copied..i]);
                out.push_str(&v[i + 1..e]);
                i = e + 1;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&v[copied..]);
    out
}

/// One assignment as dotenv reads it: name, value, and the byte span of the name and of the raw value.
struct Assignment {
    name: String,
    value: Zeroizing<String>,
    name_at: usize,
    raw_end: usize,
    quoted: bool,
}

/// Every assignment in `content` (line endings normalized as dotenv does), in file order.
fn assignments(normalized: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for c in line_re().captures_iter(normalized) {
        let name = c.get(1).expect("the name is not optional");
        let raw = c.get(2).map(|m| m.as_str()).unwrap_or("");
        let trimmed = raw.trim_matches(js_space);
        let quote = trimmed.chars().next();
        let mut value = strip_quotes(trimmed);
        if quote == Some('"') {
            value = value.replace("\\n", "\n").replace("\\r", "\r");
        }
        out.push(Assignment {
            name: name.as_str().to_string(),
            value: Zeroizing::new(value),
            name_at: name.start(),
            raw_end: c.get(2).map_or(name.end(), |m| m.end()),
            quoted: matches!(quote, Some('\'' | '"' | '`')),
        });
    }
    out
}

/// dotenv 17's `parse`: every variable and its value (the last assignment wins), in first-seen order.
pub fn parse(content: &str) -> Vec<(String, Zeroizing<String>)> {
    let normalized = content.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
    for a in assignments(&normalized) {
        match out.iter_mut().find(|(n, _)| *n == a.name) {
            Some(slot) => slot.1 = a.value,
            None => out.push((a.name, a.value)),
        }
    }
    out
}

/// Find provider keys in `.env` content, read as OpenClaw reads them (dotenv 17: `export `, single, double and
/// backtick quotes, `\n` in double quotes, comments, a `#` ending an unquoted value, the last assignment winning).
/// A key the reader cannot place on one line of its own (a value spanning lines, a variable set twice, unusual
/// line breaks) is reported in `unsure` and must be left alone.
pub fn read(content: &str) -> Found {
    let mut found = Found::default();
    let odd_breaks = content.replace("\r\n", "").contains(['\r', '\u{2028}', '\u{2029}']);
    let normalized = content.replace("\r\n", "\n");
    // A lone \r is a line break to dotenv: read as dotenv does, report every key as unsure.
    let normalized = if odd_breaks { normalized.replace('\r', "\n") } else { normalized };
    let line_of = |at: usize| normalized[..at].matches('\n').count();
    let all = assignments(&normalized);
    for (i, a) in all.iter().enumerate() {
        let Some(provider) = provider_for_env(&a.name) else { continue };
        if all[i + 1..].iter().any(|b| b.name == a.name) {
            // Only the last assignment counts; it is judged on its own.
            continue;
        }
        let line = line_of(a.name_at);
        let sets = all.iter().filter(|b| b.name == a.name).count();
        let why = if odd_breaks {
            Some("the file has line breaks other than \\n and \\r\\n")
        } else if sets > 1 {
            Some("the variable is set more than once")
        } else if line_of(a.raw_end) != line {
            Some("its value spans more than one line")
        } else if a.value.contains(|c: char| js_space(c) || c.is_control()) {
            Some("its value contains spaces or control characters")
        } else if a.value.contains(['"', '\'', '`', '\\']) {
            Some("its value contains a quote or a backslash")
        } else if a.value.is_empty() || (!a.quoted && a.value.starts_with("${")) {
            None
        } else {
            let text_line = normalized.lines().nth(line).unwrap_or_default();
            let lead = text_line.trim_start_matches(js_space);
            let lead = lead.strip_prefix("export").map_or(lead, |r| r.trim_start_matches(js_space));
            // The variable must start its own line (not continue a previous assignment's line).
            if !lead.starts_with(a.name.as_str()) { Some("it does not start its own line") } else { None }
        };
        match why {
            Some(why) => found.unsure.push(Unsure { line, name: a.name.clone(), why }),
            None if a.value.is_empty() || (!a.quoted && a.value.starts_with("${")) => {}
            None => found.keys.push(EnvKey { line, name: a.name.clone(), provider, value: a.value.clone() }),
        }
    }
    found
}

/// The provider keys `read` is sure of.
pub fn find_keys(content: &str) -> Vec<EnvKey> {
    read(content).keys
}

/// `content` without the given line numbers; every other line (and line ending) unchanged.
pub fn without_lines(content: &str, drop: &[usize]) -> String {
    content.split_inclusive('\n').enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_keeps_other_lines() {
        let c = "# comment\nexport ANTHROPIC_API_KEY=\"sk-ant-api03-x\"\nFOO=bar\r\nOPENAI_API_KEY='sk-o'\nEMPTY_API=\nGROQ_API_KEY=${OTHER}\n";
        let keys = find_keys(c);
        assert_eq!(
            keys.iter().map(|k| (k.name.as_str(), k.provider, k.value.as_str())).collect::<Vec<_>>(),
            vec![("ANTHROPIC_API_KEY", "anthropic", "sk-ant-api03-x"), ("OPENAI_API_KEY", "openai", "sk-o")]
        );
        let rest = without_lines(c, &keys.iter().map(|k| k.line).collect::<Vec<_>>());
        assert_eq!(rest, "# comment\nFOO=bar\r\nEMPTY_API=\nGROQ_API_KEY=${OTHER}\n");
    }
}
