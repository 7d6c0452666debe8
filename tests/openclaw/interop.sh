#!/usr/bin/env bash
# Interop with the real OpenClaw 2026.9.6 (from the npm registry): clawkeep's reference-only auth-profiles.json is
# imported by `openclaw doctor --fix`, OpenClaw then lists the profiles as exec refs, the archived file holds no
# secret, and clawkeep keeps working from its index afterwards.
# Usage: tests/openclaw/interop.sh [path/to/clawkeep]   (builds target/debug/clawkeep when not given)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/openclaw/lib.sh

new_test_home "interop passphrase"

KEY="sk-ant-api03-INTEROP-canary-key"
TOKEN="sk-ant-oat01-INTEROP-$(printf 'A%.0s' $(seq 1 80))"
"$BIN" init --backend file >/dev/null
printf '%s' "$KEY" | "$BIN" models auth add --provider anthropic >/dev/null
printf '%s' "$TOKEN" | "$BIN" models auth paste-token --provider anthropic --expires-in 30d >/dev/null
AP="$HOME/.openclaw/agents/main/agent/auth-profiles.json"
check "clawkeep wrote a reference-only auth-profiles.json" "grep -q tokenRef '$AP' && ! grep -q INTEROP '$AP'"

"$OPENCLAW" doctor --fix --non-interactive --yes >"$T/doctor.out" 2>&1 || true
check "openclaw doctor --fix imported and archived the file" "[ ! -e '$AP' ] && ls '$HOME'/.openclaw/agents/main/agent/auth-profiles.json.migrated-* >/dev/null 2>&1"
check "the archive holds no secret" "! grep -q INTEROP '$HOME'/.openclaw/agents/main/agent/auth-profiles.json.migrated-*"

"$OPENCLAW" models status --json >"$T/status.json" 2>"$T/status.err" || true
check "openclaw lists the api key as an exec ref" "grep -q 'anthropic:default=ref(exec:main/anthropic:default)' '$T/status.json'"
check "openclaw lists the token as an exec ref" "grep -q 'anthropic:manual=token:ref(exec:main/anthropic:manual)' '$T/status.json'"
check "openclaw kept the token's expiry" "python3 -c 'import json,sys; d=json.load(open(\"$T/status.json\")); ps=d[\"auth\"][\"oauth\"][\"profiles\"]; p=[x for x in ps if x[\"profileId\"]==\"anthropic:manual\"][0]; sys.exit(0 if p.get(\"expiresAt\",0)>0 and p[\"status\"]==\"ok\" else 1)'"

# clawkeep after the import: works from its index, needs no passphrase for status.
check "clawkeep status works after the import" "env -u CLAWKEEP_PASSPHRASE_FILE '$BIN' models status --check >/dev/null"
check "clawkeep get still returns the key" "[ \"\$('$BIN' get anthropic:default)\" = '$KEY' ]"
"$BIN" models auth add --provider openai <<<"sk-proj-INTEROP-2" >/dev/null 2>"$T/add.err"
check "clawkeep says the new profile must be imported" "grep -q 'openclaw doctor --fix' '$T/add.err'"
"$BIN" doctor --json >"$T/ckdoctor0.json" 2>/dev/null || true
check "clawkeep doctor reports the profile OpenClaw has not imported yet" "grep -q NOT_IMPORTED '$T/ckdoctor0.json' && grep -q 'openai:default' '$T/ckdoctor0.json'"
# `clawkeep openclaw wire --import` runs `openclaw doctor --fix` when openclaw is on PATH.
PATH="$(dirname "$OPENCLAW"):$PATH" "$BIN" openclaw wire --import --pass-env CLAWKEEP_PASSPHRASE_FILE >"$T/import.out" 2>&1 || true
check "clawkeep openclaw wire --import ran openclaw doctor --fix" "grep -q 'imported the profiles' '$T/import.out'"
"$OPENCLAW" models status --json >"$T/status2.json" 2>/dev/null || true
check "the second profile is imported too" "grep -q 'openai:default=ref(exec:main/openai:default)' '$T/status2.json'"
"$BIN" doctor --json >"$T/ckdoctor1.json" 2>/dev/null || true
check "after the import clawkeep doctor no longer reports it" "! grep -q NOT_IMPORTED '$T/ckdoctor1.json'"
check "no clawkeep secret in any OpenClaw file" "! grep -rq INTEROP --exclude-dir=clawkeep '$HOME/.openclaw'"

# The exec provider: `clawkeep openclaw wire` registers it; OpenClaw runs `clawkeep resolve` and resolves the
# imported refs and a ref placed in a provider's apiKey in openclaw.json (file store, passphrase file passed on).
# The config ref sits on a provider without auth profiles; on `anthropic` the profiles would shadow it.
"$BIN" openclaw wire --pass-env CLAWKEEP_PASSPHRASE_FILE >"$T/wire.out" 2>&1
check "clawkeep openclaw wire registered the provider" "grep -q '\"command\": \"$BIN\"' '$HOME/.openclaw/openclaw.json' && [ -e '$HOME/.openclaw/openclaw.json.clawkeep.bak' ]"
python3 - "$HOME/.openclaw/openclaw.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
prov = c.setdefault("models", {}).setdefault("providers", {}).setdefault("claude-proxy", {})
prov.update({"baseUrl": "https://proxy.example", "api": "anthropic-messages", "models": []})
prov["apiKey"] = {"source": "exec", "provider": "clawkeep", "id": "main/anthropic:default"}
json.dump(c, open(p, "w"), indent=2)
PY
audit() { "$OPENCLAW" secrets audit --allow-exec --json >"$T/audit.json" 2>"$T/audit.err" || true; }
field() { python3 -c "import json,sys; d=json.load(open('$T/audit.json')); print(d$1)"; }
audit
check "openclaw secrets audit resolved every clawkeep ref" "[ \"\$(field \"['resolution']['refsChecked']\")\" -ge 3 ] && [ \"\$(field \"['summary']['unresolvedRefCount']\")\" = 0 ] && [ \"\$(field \"['summary']['plaintextCount']\")\" = 0 ]"
check "no secret in the audit output" "! grep -q INTEROP '$T/audit.json' '$T/audit.err'"
"$BIN" doctor --fix >"$T/ckdoctor.out" 2>&1 || true
check "clawkeep doctor --fix removed the references-only archives" "! ls '$HOME'/.openclaw/agents/main/agent/auth-profiles.json.migrated-* >/dev/null 2>&1"
audit
check "openclaw secrets audit now reports clean" "[ \"\$(field \"['status']\")\" = clean ]"
"$BIN" models auth remove openai:default >/dev/null 2>"$T/remove.err"
audit
check "a removed secret shows up as an unresolved ref" "[ \"\$(field \"['summary']['unresolvedRefCount']\")\" = 1 ] && grep -q REF_UNRESOLVED '$T/audit.json'"
logout="$(grep -o 'openclaw models auth logout [^ ]* --agent [^ ]* --yes' "$T/remove.err" || true)"
check "clawkeep names the OpenClaw command that drops the imported copy" "[ -n \"\$logout\" ]"
"$OPENCLAW" ${logout#openclaw } >"$T/logout.out" 2>&1 || true
audit
check "after that command the audit is clean again" "[ \"\$(field \"['summary']['unresolvedRefCount']\")\" = 0 ] && [ \"\$(field \"['status']\")\" = clean ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
