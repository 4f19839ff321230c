#!/usr/bin/env bash
# Builds the four Lambda functions as arm64 zips (cargo lambda, release profile) into
# target/lambda/<function>/bootstrap.zip ($CARGO_TARGET_DIR/lambda/… when set), prints each zip's size and fails when one is over the
# budget (6 MB). Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
"$repo/scripts/setup-infra.sh"
export PATH="$repo/.venv/infra/bin:$PATH"

functions=(harden-repository validate-cache-rules check-credentials prewarm-images)
budget_bytes=$((6 * 1000 * 1000))

bins=()
for function in "${functions[@]}"; do
    bins+=(--bin "$function")
done
started=$(date +%s)
cargo lambda build --release --arm64 --output-format zip --locked "${bins[@]}"
elapsed=$(( $(date +%s) - started ))

over=0
for function in "${functions[@]}"; do
    zip="${CARGO_TARGET_DIR:-target}/lambda/$function/bootstrap.zip"
    if [ ! -f "$zip" ]; then
        echo "package: $zip was not built" >&2
        over=1
        continue
    fi
    bytes=$(stat -c %s "$zip")
    verdict=ok
    if [ "$bytes" -gt "$budget_bytes" ]; then
        verdict="OVER the $budget_bytes-byte budget"
        over=1
    fi
    printf 'package: %-22s %9d bytes (%s MB) %s\n' "$function" "$bytes" \
        "$(awk -v b="$bytes" 'BEGIN {printf "%.2f", b / 1000000}')" "$verdict"
done
echo "package: built in ${elapsed}s"
exit "$over"
