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
    /// The value, unquoted.
    pub value: Zeroizing<String>,
}

/// Find provider keys in `.env` content. Accepts `NAME=value`, `export NAME=value`, single or double quotes.
pub fn find_keys(content: &str) -> Vec<EnvKey> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let t = line.trim_start();
        let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
        let Some((name, rest)) = t.split_once('=') else { continue };
        let name = name.trim();
        let Some(provider) = provider_for_env(name) else { continue };
        let v = rest.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v.split(" #").next().unwrap_or(v).trim()
        };
        if v.is_empty() || v.starts_with("${") {
            continue;
        }
        out.push(EnvKey { line: i, name: name.to_string(), provider, value: Zeroizing::new(v.to_string()) });
    }
    out
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
