#!/usr/bin/env bash
# Real agent turns of OpenClaw 2026.9.6 (`openclaw agent --local`) against a local stand-in for Anthropic's Messages API
# (tests/openclaw/anthropic_standin.py), the API key coming from clawkeep through OpenClaw's exec SecretRef provider
# (`clawkeep resolve`). Two variants, each in a fresh temp HOME:
#   keychain  the key lives in the Secret Service (gnome-keyring on a private session bus);
#   service   the key lives in the file store, unlocked by `clawkeep serve --unlock`; the exec provider gets
#             CLAWKEEP_SOCKET but not CLAWKEEP_PASSPHRASE_FILE, so `clawkeep resolve` must ask the service.
# In each: one turn with the ref of the profile imported by `openclaw doctor --fix`, one with the ref placed directly
# in models.providers.anthropic.apiKey. Checks: the turn answers "ok", the stand-in got exactly the stored key in
# x-api-key, and the key appears in no OpenClaw file (outside clawkeep's own dir) and no OpenClaw output.
# Usage: tests/openclaw/agent_turn.sh [path/to/clawkeep]   (builds target/debug/clawkeep when not given)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/openclaw/lib.sh
STANDIN="$PWD/tests/openclaw/anthropic_standin.py"

T="$(mktemp -d)"
stop() {  # stop <name>: kill the process in $T/<name>.pid (and wait for it when it is our child)
  local pid; pid="$(cat "$T/$1.pid" 2>/dev/null || true)"; rm -f "$T/$1.pid"
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
}
cleanup() { for p in "$T"/*.pid; do [ -e "$p" ] && stop "$(basename "$p" .pid)"; done; rm -rf "$T"; }
trap cleanup EXIT
unset OPENCLAW_STATE_DIR OPENCLAW_AGENT_DIR CLAWKEEP_DIR CLAWKEEP_SOCKET CLAWKEEP_PASSPHRASE_FILE \
  DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }
T0="$(now)"

python3 "$STANDIN" "$T/port" "$T/requests.log" >/dev/null 2>"$T/standin.err" & echo $! >"$T/standin.pid"
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT="$(cat "$T/port")"
REQ='{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}'

# --- helpers (V = variant name, HOME = its temp home, KEY = its key) ---
new_home() {
  V="$1"; export HOME="$T/$V/home"; mkdir -p "$HOME"
  KEY="sk-ant-api03-AGENTTURN-$V-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  CONF="$HOME/.openclaw/openclaw.json"
}
# Minimal openclaw.json: the stand-in as Anthropic's endpoint, an Anthropic default model, the log inside HOME.
base_config() {
  mkdir -p "$HOME/.openclaw"
  python3 - "$CONF" "http://127.0.0.1:$PORT" "$HOME/.openclaw/logs/openclaw.log" <<'PY'
import json, sys
conf, url, log = sys.argv[1:]
c = json.load(open(conf)) if __import__("os").path.exists(conf) else {}
c.setdefault("models", {}).setdefault("providers", {})["anthropic"] = {"baseUrl": url, "api": "anthropic-messages"}
c.setdefault("agents", {}).setdefault("defaults", {})["model"] = "anthropic/claude-sonnet-4-6"
c.setdefault("logging", {})["file"] = log
json.dump(c, open(conf, "w"), indent=2)
PY
}
# secrets.providers.clawkeep: `clawkeep openclaw wire` when it exists, else written here; then passEnv gets the
# names given as +NAME and loses those given as -NAME.
wire() {
  if "$BIN" openclaw wire --help >/dev/null 2>&1; then
    check "$V: clawkeep openclaw wire" "'$BIN' openclaw wire --config '$CONF' >'$T/$V/wire.out' 2>&1"
  else
    echo "     ($V: \`clawkeep openclaw wire\` is not available; writing the provider entry directly)"
  fi
  python3 - "$CONF" "$BIN" "$@" <<'PY'
import json, sys
conf, binary, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
c = json.load(open(conf))
p = c.setdefault("secrets", {}).setdefault("providers", {}).setdefault("clawkeep", {
    "source": "exec", "command": binary, "args": ["resolve"], "jsonOnly": True, "passEnv": ["HOME"]})
env = p.setdefault("passEnv", [])
for e in edits:
    if e[0] == "+" and e[1:] not in env: env.append(e[1:])
    if e[0] == "-" and e[1:] in env: env.remove(e[1:])
json.dump(c, open(conf, "w"), indent=2)
PY
  check "$V: the provider runs $BIN resolve" "python3 -c 'import json,sys; p=json.load(open(\"$CONF\"))[\"secrets\"][\"providers\"][\"clawkeep\"]; sys.exit(0 if p[\"command\"]==\"$BIN\" and p[\"args\"]==[\"resolve\"] and p.get(\"jsonOnly\") is True and p[\"source\"]==\"exec\" else 1)'"
}
passenv() { python3 -c "import json; print(' '.join(json.load(open('$CONF'))['secrets']['providers']['clawkeep']['passEnv']))"; }
has_env() { [[ " $(passenv) " == *" $1 "* ]]; }
# `clawkeep resolve` with only the given environment: prints the value, or "error:<code>" (nothing if it broke).
resolve_with() { env -i "$@" "$BIN" resolve <<<"$REQ" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); i="main/anthropic:default"; print(d["values"][i] if i in d["values"] else "error:" + d["errors"][i]["code"])' 2>/dev/null || true; }
import_profiles() {
  local t; t="$(now)"
  env "${OC_ENV[@]}" "$OPENCLAW" doctor --fix --non-interactive --yes >"$T/$V/doctor.out" 2>&1 || true
  echo "     ($V: openclaw doctor --fix took $(since "$t"))"
  check "$V: openclaw doctor --fix imported auth-profiles.json" "[ ! -e '$HOME/.openclaw/agents/main/agent/auth-profiles.json' ] && ls '$HOME'/.openclaw/agents/main/agent/auth-profiles.json.migrated-* >/dev/null 2>&1"
}
direct_ref() {
  python3 - "$CONF" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["models"]["providers"]["anthropic"]["apiKey"] = {"source": "exec", "provider": "clawkeep", "id": "main/anthropic:default"}
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}
reply_ok() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any((p.get("text") or "").strip()=="ok" for p in d.get("payloads",[])) else 1)' "$1" 2>/dev/null; }
cred_kind() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["meta"]["agentMeta"]["credentialSource"]["kind"])' "$1" 2>/dev/null || true; }
# Every request carried exactly the stored key in x-api-key (and there was at least one).
keys_ok() { [ -s "$T/requests.log" ] && [ "$(grep -c '^x-api-key: ' "$T/requests.log")" -ge 1 ] &&
  ! grep '^x-api-key: ' "$T/requests.log" | grep -vqxF "x-api-key: $STORED"; }
# turn <label> <expected credentialSource kind>; OC_ENV is the environment change for OpenClaw.
turn() {
  local out="$T/$V/turn-$1" t rc=0
  : >"$T/requests.log"
  t="$(now)"
  env "${OC_ENV[@]}" timeout 180 "$OPENCLAW" agent --local --agent main -m "say ok" --json >"$out.out" 2>"$out.err" || rc=$?
  echo "     ($V/$1: openclaw agent took $(since "$t"), exit $rc, $(grep -c '^x-api-key: ' "$T/requests.log" || true) request(s); headers: $(cut -d: -f1 "$T/requests.log" | sort | uniq -c | xargs))"
  check "$V/$1: the agent turn completed with the reply \"ok\"" "[ $rc = 0 ] && reply_ok '$out.out'"
  check "$V/$1: OpenClaw took the key from the $2 credential" "[ \"\$(cred_kind '$out.out')\" = '$2' ]"
  check "$V/$1: the stand-in received exactly the vault's key in x-api-key" "keys_ok"
  if [ "$rc" != 0 ]; then tail -5 "$out.err" | sed 's/^/     | /'; fi
}
# `openclaw secrets audit --allow-exec` resolves every clawkeep ref through the provider (no plaintext, none unresolved).
audit_ok() {
  env "${OC_ENV[@]}" "$OPENCLAW" secrets audit --allow-exec --json >"$T/$V/audit.json" 2>"$T/$V/audit.err" || true
  check "$V: openclaw secrets audit resolved every clawkeep ref, no plaintext" "python3 -c 'import json,sys; d=json.load(open(\"$T/$V/audit.json\")); s=d[\"summary\"]; sys.exit(0 if d[\"resolution\"][\"refsChecked\"]>=1 and s[\"unresolvedRefCount\"]==0 and s[\"plaintextCount\"]==0 else 1)'"
  check "$V: the key is not in the audit output" "! grep -qF -- '${KEY##*-}' '$T/$V/audit.json' '$T/$V/audit.err'"
}
# The key (its random part is enough) in no OpenClaw file outside clawkeep's dir, nor in any OpenClaw output.
no_leaks() {
  local needle="${KEY##*-}"
  local files; files="$(find "$HOME/.openclaw" -path "$HOME/.openclaw/clawkeep" -prune -o -type f -print0 | xargs -0 grep -lF -- "$needle" || true)"
  check "$V: the key is in no file under .openclaw outside clawkeep's dir (logs, sqlite, config)" "[ -z \"\$files\" ] || { echo \"\$files\" | sed 's/^/     | /'; false; }"
  check "$V: the key is in no OpenClaw stdout/stderr" "! grep -lF -- '$needle' '$T/$V'/doctor.out '$T/$V'/turn-*.out '$T/$V'/turn-*.err"
  check "$V: OpenClaw logged to the configured file (so it was covered)" "[ -s '$HOME/.openclaw/logs/openclaw.log' ]"
}
# What each variant checks once clawkeep holds the key and is wired in: import, two turns, the audit, no leaks.
openclaw_checks() {
  import_profiles
  turn imported-profile profile
  direct_ref
  turn apiKey-ref direct
  audit_ok
  no_leaks
}

# --- 1. keychain: the Secret Service of gnome-keyring on a private session bus ---
t1="$(now)"
new_home keychain
if command -v dbus-daemon >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  bus="$(dbus-daemon --session --fork --address="unix:tmpdir=$T" --print-address=1 --print-pid=1)"
  export DBUS_SESSION_BUS_ADDRESS="$(sed -n 1p <<<"$bus")"; sed -n 2p <<<"$bus" >"$T/dbus.pid"
  printf 'keyring pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetConnectionUnixProcessID \
    string:org.freedesktop.secrets 2>/dev/null | awk '/uint32/ { print $2 }' >"$T/keyring.pid" || true
  "$BIN" init --backend keychain >"$T/$V/init.out" 2>&1
  printf '%s' "$KEY" | "$BIN" models auth add --provider anthropic >/dev/null
  STORED="$("$BIN" get anthropic:default)"
  check "keychain: clawkeep stored the key in the Secret Service" "[ \"\$STORED\" = \"\$KEY\" ] && ! grep -rqF -- '$KEY' '$HOME/.openclaw'"
  base_config
  wire +HOME +DBUS_SESSION_BUS_ADDRESS
  check "keychain: passEnv has HOME and DBUS_SESSION_BUS_ADDRESS ($(passenv))" "has_env HOME && has_env DBUS_SESSION_BUS_ADDRESS"
  OC_ENV=(-u CLAWKEEP_PASSPHRASE_FILE)
  openclaw_checks
  stop keyring; stop dbus
else
  check "keychain: dbus-daemon and gnome-keyring-daemon are installed (apt-get install gnome-keyring dbus-daemon)" false
fi
unset DBUS_SESSION_BUS_ADDRESS
echo "     (keychain variant: $(since "$t1"))"

# --- 2. file store, unlocked by the vault service `clawkeep serve --unlock` ---
t2="$(now)"
new_home service
printf 'agent turn passphrase\n' >"$T/pass"; chmod 600 "$T/pass"
export CLAWKEEP_PASSPHRASE_FILE="$T/pass"
"$BIN" init --backend file >"$T/$V/init.out" 2>&1
printf '%s' "$KEY" | "$BIN" models auth add --provider anthropic >/dev/null
STORED="$("$BIN" get anthropic:default)"
check "service: clawkeep stored the key in the file store" "[ \"\$STORED\" = \"\$KEY\" ] && ! grep -rqF -- '$KEY' '$HOME/.openclaw'"
check "service: without the service and the passphrase, clawkeep resolve cannot answer" "[[ \"\$(resolve_with HOME='$HOME')\" == error:* ]]"
base_config
if "$BIN" serve --help >/dev/null 2>&1; then
  check "service: clawkeep serve exists" true
  export CLAWKEEP_SOCKET="$T/ck.sock"
  "$BIN" serve --unlock >"$T/$V/serve.out" 2>&1 & echo $! >"$T/serve.pid"
  for _ in $(seq 100); do [ -S "$CLAWKEEP_SOCKET" ] && break; sleep 0.1; done
  check "service: clawkeep serve --unlock is listening on \$CLAWKEEP_SOCKET" "[ -S '$CLAWKEEP_SOCKET' ]"
  check "service: clawkeep resolve answers through the service with only HOME and CLAWKEEP_SOCKET" "[ \"\$(resolve_with HOME='$HOME' CLAWKEEP_SOCKET='$CLAWKEEP_SOCKET')\" = \"\$KEY\" ]"
  wire +HOME +CLAWKEEP_SOCKET -CLAWKEEP_PASSPHRASE_FILE
  check "service: passEnv has HOME and CLAWKEEP_SOCKET, not CLAWKEEP_PASSPHRASE_FILE ($(passenv))" "has_env HOME && has_env CLAWKEEP_SOCKET && ! has_env CLAWKEEP_PASSPHRASE_FILE"
  OC_ENV=(-u CLAWKEEP_PASSPHRASE_FILE)
else
  check "service: clawkeep serve exists (\`$BIN serve --help\` failed; the turns below use the direct mode instead)" false
  V=direct
  mkdir -p "$T/$V"
  wire +HOME +CLAWKEEP_PASSPHRASE_FILE
  OC_ENV=(CLAWKEEP_PASSPHRASE_FILE="$CLAWKEEP_PASSPHRASE_FILE")
fi
openclaw_checks
if [ -s "$T/serve.pid" ]; then
  stop serve
  check "service: with the service stopped, clawkeep resolve no longer answers" "[[ \"\$(resolve_with HOME='$HOME' CLAWKEEP_SOCKET='$CLAWKEEP_SOCKET')\" == error:* ]]"
  check "service: the key is not in the service's output" "! grep -qF -- '${KEY##*-}' '$T/service/serve.out'"
fi
echo "     (file-store variant: $(since "$t2"); total $(since "$T0"))"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
