#!/usr/bin/env bash
# Runs the local AWS emulator in the foreground for demos and manual testing.
#   scripts/emulator.sh [--port N] [--state-dir DIR] [--host ADDR]
# Installs what it needs first (scripts/setup-emulator.sh). Ctrl-C stops everything.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port=4566
host=127.0.0.1
state_dir="$repo/.emulator"
region="${AWS_REGION:-eu-west-1}"

while [ "$#" -gt 0 ]; do
    case "$1" in
        --port) port="$2"; shift 2 ;;
        --port=*) port="${1#*=}"; shift ;;
        --host) host="$2"; shift 2 ;;
        --host=*) host="${1#*=}"; shift ;;
        --state-dir) state_dir="$2"; shift 2 ;;
        --state-dir=*) state_dir="${1#*=}"; shift ;;
        -h|--help)
            sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) echo "emulator.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

"$repo/scripts/setup-emulator.sh"

ready="$(mktemp "${TMPDIR:-/tmp}/ptc-emulator-ready.XXXXXX")"
rm -f "$ready"

cd "$repo/tests/emulator"
"$repo/.venv/bin/python" -m ptc_emulator serve --host "$host" --port "$port" \
    --state-dir "$state_dir" --ready-file "$ready" >/dev/null &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

while [ ! -s "$ready" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" || exit $?
        exit 1
    fi
    sleep 0.1
done

"$repo/.venv/bin/python" - "$ready" "$region" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
region = sys.argv[2]
creds = info["upstream_credentials"]
print(f"AWS emulator ready in {info['startup_seconds']} s at {info['endpoint']} (account {info['account_id']})")
print(f"  upstream registries: anonymous {info['upstreams']['anonymous']}, "
      f"authenticated {info['upstreams']['authenticated']} "
      f"(username {creds['username']}, token {creds['access_token']})")
print("  control API: " + info["endpoint"] + "/_ptc/health, /_ptc/calls, /_ptc/faults, /_ptc/settings")
print()
print("Use it from another shell:")
print(f"  export AWS_ENDPOINT_URL={info['endpoint']}")
print(f"  export AWS_REGION={region} AWS_DEFAULT_REGION={region}")
print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
print()
print("Press Ctrl-C to stop.")
PY

set +e
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid"
done
wait "$pid" 2>/dev/null
echo "AWS emulator stopped."
