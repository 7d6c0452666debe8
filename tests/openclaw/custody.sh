#!/usr/bin/env bash
# Custody against the real OpenClaw ($CLAWKEEP_OPENCLAW_VERSION, default 2026.9.6; CI also runs 2026.7.33 and the JSON
# layout of 2026.5.3-1, whose paste-token is typed on a pseudo-terminal) from npm:
# a state dir seeded the way users do it (OpenClaw's own paste-token for an Anthropic token -> the shared SQLite store
# on 2026.9, the per-agent one on 2026.7; an OpenAI key in models.providers.openai.apiKey; an OpenRouter key in .env). clawkeep doctor and audit report each plaintext credential (non-zero); clawkeep migrate
# moves them (SQLite and openclaw.json through `openclaw secrets apply`); OpenClaw's own audit then reports no
# PLAINTEXT_FOUND and no unresolved ref.
# Usage: tests/openclaw/custody.sh [path/to/clawkeep]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/openclaw/lib.sh

new_test_home "custody passphrase"
export PATH="$(dirname "$OPENCLAW"):$PATH"
S="$HOME/.openclaw"

TOKEN="sk-ant-oat01-CUSTODYcanary$(printf 'T%.0s' $(seq 1 80))"
OPENAI="sk-proj-CUSTODYcanaryOPENAI0123456789abcdef"
ROUTER="sk-or-v1-CUSTODYcanaryROUTER0123456789abcdef"
printf '%s' "$TOKEN" | "$OPENCLAW" models auth paste-token --provider anthropic >"$T/paste.openclaw" 2>&1 || true
# OpenClaw 2026.5.3-1's paste-token reads the token only from a terminal: when stdin did not work, the same command on
# a pseudo-terminal (tests/openclaw/pty_paste.py types it at the prompt).
if ! grep -rqa CUSTODYcanary "$S" 2>/dev/null; then
  PTY_SECRET="$TOKEN" python3 tests/openclaw/pty_paste.py "$OPENCLAW" models auth paste-token --provider anthropic >"$T/paste.pty" 2>&1 || true
fi
python3 - "$S/openclaw.json" "$OPENAI" <<'PY'
import json, sys
p, key = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c.setdefault("models", {}).setdefault("providers", {})["openai"] = {"baseUrl": "http://127.0.0.1:9/v1", "apiKey": key, "models": []}
json.dump(c, open(p, "w"), indent=2)
PY
printf 'OPENROUTER_API_KEY=%s\n' "$ROUTER" > "$S/.env"; chmod 600 "$S/.env"
"$OPENCLAW" secrets audit --json >"$T/oc-audit0.json" 2>/dev/null || true
STORE="$(grep -la CUSTODYcanary "$S/state/openclaw.sqlite"* "$S/agents/main/agent/openclaw-agent.sqlite"* "$S/agents/main/agent/auth-profiles.json" 2>/dev/null | head -1 || true)"
STORE="${STORE%-wal}"
# The layout, from where OpenClaw put the token (never from its version number).
case "$STORE" in
  */auth-profiles.json) LAYOUT=json ;;
  */state/openclaw.sqlite) LAYOUT=shared-sqlite ;;
  *) LAYOUT=agent-sqlite ;;
esac
echo "    paste-token stored the token in: ${STORE#$S/} (layout: $LAYOUT)"
check "paste-token left the token in plaintext in OpenClaw's store" "[ -n '$STORE' ] && grep -qa CUSTODYcanary '$STORE'*"
check "OpenClaw's audit sees the three plaintext credentials" "[ \"\$(python3 -c 'import json;d=json.load(open(\"$T/oc-audit0.json\"));print(sum(1 for f in d[\"findings\"] if f[\"code\"]==\"PLAINTEXT_FOUND\"))')\" = 3 ]"

"$BIN" init --backend file >/dev/null
"$BIN" openclaw wire --pass-env CLAWKEEP_PASSPHRASE_FILE >/dev/null
set +e
"$BIN" doctor --json >"$T/doctor.json" 2>"$T/doctor.err"; drc=$?
"$BIN" audit --json --check >"$T/audit.json" 2>"$T/audit.err"; arc=$?
set -e
check "clawkeep doctor fails (exit 1)" "[ $drc = 1 ]"
check "clawkeep doctor reports the pasted token" "grep -q 'anthropic:manual' '$T/doctor.json' && grep -q PLAINTEXT '$T/doctor.json'"
check "clawkeep doctor reports the openclaw.json key and the .env key" "grep -q 'models.providers.openai.apiKey' '$T/doctor.json' && grep -q OPENROUTER_API_KEY '$T/doctor.json'"
check "clawkeep audit --check exits non-zero" "[ $arc != 0 ]"
check "clawkeep audit reports the three as PLAINTEXT_FOUND, using OpenClaw's matrix" "python3 -c 'import json,sys;d=json.load(open(\"$T/audit.json\"));ps={f[\"jsonPath\"].split(\"]:\",1)[-1] for f in d[\"findings\"] if f[\"code\"]==\"PLAINTEXT_FOUND\"};sys.exit(0 if {\"profiles.anthropic:manual.token\",\"models.providers.openai.apiKey\",\"\$env.OPENROUTER_API_KEY\"} <= ps and d[\"matrix\"] else 1)'"

set +e
"$BIN" migrate --dry-run >"$T/dry.out" 2>&1; mdrc=$?
set -e
check "migrate --dry-run lists the SQLite token and the config key, without values" "[ $mdrc = 0 ] && grep -q 'would-move.*anthropic:manual' '$T/dry.out' && grep -q 'would-move.*models.providers.openai.apiKey' '$T/dry.out'"
set +e
"$BIN" migrate >"$T/migrate-refused.out" 2>&1; mref=$?
intact=0; grep -qa CUSTODYcanary "$STORE"* && grep -qa CUSTODYcanary "$S/openclaw.json" && [ ! -e "$S/clawkeep/openclaw-apply-plan.json" ] || intact=1
"$BIN" migrate --accept-no-undo >"$T/migrate.out" 2>&1; mrc=$?
set -e
cat "$T/migrate.out" | sed 's/^/    /'
check "clawkeep migrate refuses first: --undo could not put the apply moves back (nothing changed)" "[ $mref = 65 ] && grep -q 'accept-no-undo' '$T/migrate-refused.out' && [ $intact = 0 ]"
check "clawkeep migrate --accept-no-undo succeeded" "[ $mrc = 0 ]"
[ "$LAYOUT" = shared-sqlite ] && check "the shared store's plaintext was cleared" "grep -q 'cleared the plaintext of anthropic:manual' '$T/migrate.out'"
# The .env key became a clawkeep profile in auth-profiles.json (the file migration): OpenClaw imports it.
"$BIN" openclaw wire --import --pass-env CLAWKEEP_PASSPHRASE_FILE >"$T/import.out" 2>&1 || true
"$OPENCLAW" secrets audit --allow-exec --json >"$T/oc-audit1.json" 2>/dev/null || true
python3 -c "import json;d=json.load(open('$T/oc-audit1.json'));print('    openclaw audit:', d['status'], [(f['code'], f.get('file','').rsplit('/',1)[-1], f.get('jsonPath'), f.get('message','')[:120]) for f in d['findings']])"
check "openclaw secrets audit: no PLAINTEXT_FOUND" "python3 -c 'import json,sys;d=json.load(open(\"$T/oc-audit1.json\"));sys.exit(1 if any(f[\"code\"]==\"PLAINTEXT_FOUND\" for f in d[\"findings\"]) else 0)'"
# Left at most: OpenClaw's note that its import archive (auth-profiles.json.migrated-*, refs only: see the canary
# check below) exists.
check "openclaw secrets audit: clean but for the import archive" "python3 -c 'import json,sys;d=json.load(open(\"$T/oc-audit1.json\"));sys.exit(0 if all(f[\"code\"]==\"LEGACY_RESIDUE\" and \".migrated-\" in f[\"file\"] for f in d[\"findings\"]) else 1)'"
check "openclaw secrets audit: no unresolved ref" "python3 -c 'import json,sys;d=json.load(open(\"$T/oc-audit1.json\"));sys.exit(1 if any(f[\"code\"]==\"REF_UNRESOLVED\" for f in d[\"findings\"]) or d[\"status\"]==\"unresolved\" else 0)'"
"$OPENCLAW" models status --json >"$T/status.json" 2>/dev/null || true
check "openclaw models status lists the token as a clawkeep ref" "grep -q 'ref(exec:main/anthropic:manual)' '$T/status.json'"
check "clawkeep get returns the migrated token" "[ \"\$('$BIN' get anthropic:manual)\" = '$TOKEN' ]"
set +e
"$BIN" audit --json --check --residue >"$T/audit2.json" 2>"$T/audit2.err"; a2rc=$?
set -e
python3 -c "import json;d=json.load(open('$T/audit2.json'));print('    clawkeep audit:', d['status'], [(f['code'], f['file'].rsplit('/',1)[-1], f.get('jsonPath')) for f in d['findings']])"
# A real agent turn: OpenClaw resolves the migrated token through clawkeep and sends it to a local stand-in for
# Anthropic's Messages API (tests/openclaw/anthropic_standin.py logs the credential headers, outside the state dir).
python3 tests/openclaw/anthropic_standin.py "$T/port" "$T/requests.log" >/dev/null 2>"$T/standin.err" & STANDIN_PID=$!
trap 'kill $STANDIN_PID 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
python3 - "$S/openclaw.json" "http://127.0.0.1:$(cat "$T/port")" <<'PY'
import json, sys
p, url = sys.argv[1:]
c = json.load(open(p))
c["models"]["providers"]["anthropic"] = {"baseUrl": url, "api": "anthropic-messages", "models": []}
c.setdefault("agents", {}).setdefault("defaults", {})["model"] = "anthropic/claude-sonnet-4-6"
json.dump(c, open(p, "w"), indent=2)
PY
trc=0; timeout 180 "$OPENCLAW" agent --local --agent main -m "say ok" --json >"$T/turn.out" 2>"$T/turn.err" || trc=$?
echo "    agent turn: exit $trc, headers seen: $(cut -d: -f1 "$T/requests.log" 2>/dev/null | sort | uniq -c | xargs)"
check "a real agent turn sent the vault's token to the stand-in" "grep -qF -- '$TOKEN' '$T/requests.log'"
rm -f "$T/requests.log"

# New profiles on the SQLite layout: clawkeep's paste-token and add write the ref through `openclaw secrets apply`
# (no legacy auth-profiles.json for `openclaw doctor --fix` to import); remove takes OpenClaw's copy out too.
TOKEN2="sk-ant-oat01-CUSTODYcanarySECOND$(printf 'S%.0s' $(seq 1 80))"
KEY2="sk-proj-CUSTODYcanaryADDED0123456789abcdef"
set +e
printf '%s' "$TOKEN2" | "$BIN" models auth paste-token --provider anthropic --profile-id anthropic:second >"$T/paste2.out" 2>"$T/paste2.err"; p2rc=$?
printf '%s' "$KEY2" | "$BIN" models auth add --provider openai --profile-id openai:added >"$T/add2.out" 2>"$T/add2.err"; a2addrc=$?
set -e
if [ "$LAYOUT" = json ]; then
  check "clawkeep paste-token and add write refs into auth-profiles.json (the JSON layout OpenClaw reads)" "[ $p2rc = 0 ] && [ $a2addrc = 0 ] && grep -q 'main/anthropic:second' '$S/agents/main/agent/auth-profiles.json' && grep -q 'main/openai:added' '$S/agents/main/agent/auth-profiles.json'"
else
  check "clawkeep paste-token and add succeed through openclaw secrets apply" "[ $p2rc = 0 ] && [ $a2addrc = 0 ] && grep -q 'openclaw secrets apply' '$T/paste2.out' && grep -q 'openclaw secrets apply' '$T/add2.out'"
  check "no legacy auth-profiles.json was written" "[ ! -e '$S/agents/main/agent/auth-profiles.json' ]"
fi
"$OPENCLAW" models status --json >"$T/status2.json" 2>/dev/null || true
check "openclaw models status lists the new profiles as clawkeep refs" "grep -q 'anthropic:second=token:ref(exec:main/anthropic:second)' '$T/status2.json' && grep -q 'openai:added=ref(exec:main/openai:added)' '$T/status2.json'"
"$OPENCLAW" secrets audit --allow-exec --json >"$T/oc-audit2.json" 2>/dev/null || true
check "openclaw secrets audit after paste-token/add: no PLAINTEXT_FOUND, no unresolved ref" "python3 -c 'import json,sys;d=json.load(open(\"$T/oc-audit2.json\"));sys.exit(1 if any(f[\"code\"] in (\"PLAINTEXT_FOUND\",\"REF_UNRESOLVED\") for f in d[\"findings\"]) or d[\"status\"]==\"unresolved\" or d[\"resolution\"][\"refsChecked\"] < 3 else 0)'"
set +e
"$BIN" models auth remove openai:added >"$T/remove2.out" 2>"$T/remove2.err"; r2rc=$?
set -e
cat "$T/remove2.out" | sed 's/^/    /'
if [ "$LAYOUT" = json ]; then
  check "clawkeep models auth remove removed the profile" "[ $r2rc = 0 ] && ! grep -q 'openai:added' '$S/agents/main/agent/auth-profiles.json'"
else
  check "clawkeep models auth remove removed OpenClaw's copy too" "[ $r2rc = 0 ] && grep -q \"Removed OpenClaw's copy\" '$T/remove2.out'"
fi
"$OPENCLAW" models status --json >"$T/status3.json" 2>/dev/null || true
check "openclaw models status no longer lists the removed profile, still lists the other" "! grep -q 'openai:added' '$T/status3.json' && grep -q 'ref(exec:main/anthropic:second)' '$T/status3.json'"
"$OPENCLAW" secrets audit --allow-exec --json >"$T/oc-audit3.json" 2>/dev/null || true
check "openclaw secrets audit after remove: no unresolved ref" "python3 -c 'import json,sys;d=json.load(open(\"$T/oc-audit3.json\"));sys.exit(1 if any(f[\"code\"] in (\"PLAINTEXT_FOUND\",\"REF_UNRESOLVED\") for f in d[\"findings\"]) or d[\"status\"]==\"unresolved\" else 0)'"
check "clawkeep audit: no plaintext credential left on the surface" "! grep -q PLAINTEXT_FOUND '$T/audit2.json'"
grep -l CUSTODYcanary "$T"/*.out "$T"/*.err "$T"/*.json 2>/dev/null | sed 's/^/    canary in: /' || true
check "no canary in any clawkeep output" "! grep -q CUSTODYcanary '$T'/*.out '$T'/*.err '$T'/*.json"
check "clawkeep audit --residue: nothing left" "[ $a2rc = 0 ]"
grep -rla CUSTODYcanary "$S" --exclude-dir=clawkeep | sed 's/^/    left: /' || true
check "no byte of any canary under the state dir outside clawkeep's ciphertext" "! grep -rqa CUSTODYcanary '$S' --exclude-dir=clawkeep"

# --undo: the file migration comes back (.env), the apply moves are named as not restored (they stay refs to the vault).
set +e
"$BIN" migrate --undo --force >"$T/undo.out" 2>"$T/undo.err"; urc=$?
set -e
sed 's/^/    /' "$T/undo.out" "$T/undo.err"
check "migrate --undo restored the file migration (.env) and said what it does not restore" "[ $urc = 0 ] && grep -q OPENROUTER_API_KEY '$S/.env' && { [ $LAYOUT = json ] || grep -q 'not restored by --undo' '$T/undo.err'; }"
check "after --undo the apply moves still resolve from the vault" "[ \"\$('$BIN' get main/openai:config 2>/dev/null || '$BIN' get openai:config)\" = '$OPENAI' ]"

echo "custody: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
