#!/usr/bin/env bash
# Installs what the local AWS emulator (tests/emulator) needs:
#   - Debian packages docker-registry and skopeo (and python3-venv when venv is unavailable);
#   - a project-local virtualenv at <repo>/.venv with tests/emulator/requirements.txt.
# Idempotent and quick when there is nothing to do. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
requirements="$repo/tests/emulator/requirements.txt"
stamp="$venv/.ptc-emulator-requirements.sha256"
did_something=0

say() {
    echo "setup-emulator: $*"
    did_something=1
}

# Serialise concurrent runs (several test processes may call this at once).
if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/ptc-emulator-setup-$(printf '%s' "$repo" | sha256sum | cut -c1-16).lock"
    exec 9>"$lock"
    flock 9
fi

# ---- Debian packages -------------------------------------------------------------------------
missing=()
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
elif [ ! -x "$venv/bin/python" ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "setup-emulator: need root (or sudo) to install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    say "installed Debian packages: ${missing[*]}"
fi

# ---- virtualenv ------------------------------------------------------------------------------
if [ -d "$venv" ] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    say "removed broken virtualenv $venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    say "created virtualenv $venv ($("$venv/bin/python" --version 2>&1))"
fi

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements"
    echo "$want" >"$stamp"
    say "installed Python requirements from tests/emulator/requirements.txt"
fi

if [ "$did_something" -eq 0 ]; then
    echo "setup-emulator: up to date"
fi
