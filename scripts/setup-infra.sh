#!/usr/bin/env bash
# Installs what deploying and packaging need, into a virtualenv of their own at <repo>/.venv/infra
# (SAM CLI pins boto3 and click versions that differ from the emulator's moto lock):
#   - infra/requirements.txt: aws-sam-cli, cfn-lint, cargo-lambda (which brings zig);
#   - the Rust target aarch64-unknown-linux-gnu (the functions run on arm64).
# Idempotent and quick when there is nothing to do. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv/infra"
requirements="$repo/infra/requirements.txt"
stamp="$venv/.ptc-infra-requirements.sha256"
did_something=0

say() {
    echo "setup-infra: $*"
    did_something=1
}

if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/ptc-infra-setup-$(printf '%s' "$repo" | sha256sum | cut -c1-16).lock"
    exec 9>"$lock"
    flock 9
fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [ ! -x "$venv/bin/python" ]; then
        echo "setup-infra: need python3 with venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
fi
if [ -d "$venv" ] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    say "removed broken virtualenv $venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    say "created virtualenv $venv ($("$venv/bin/python" --version 2>&1))"
fi

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements"
    echo "$want" >"$stamp"
    say "installed Python requirements from infra/requirements.txt"
fi

target=aarch64-unknown-linux-gnu
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
        say "added Rust target $target"
    fi
else
    echo "setup-infra: rustup not found; make sure the Rust target $target is installed" >&2
fi

if [ "$did_something" -eq 0 ]; then
    echo "setup-infra: up to date"
fi
