#!/usr/bin/env bash
# AWS Control Tower's proactive controls on the CDK templates (infra/cdk/cdk.out), with the
# cfn-guard rules and binary that @cdklabs/cdk-validator-cfnguard ships (pinned in
# infra/cdk/package-lock.json): offline once node_modules is installed. Synthesizes first
# (scripts/cdk-synth.sh) when the templates are missing or older than the construct's sources.
# Fails on a failing control docs/organisation.md does not document (infra/cdk/bin/guard.ts, DOCUMENTED).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cdk="$repo/infra/cdk"
templates=("$cdk/cdk.out/ptc-ops.template.json" "$cdk/cdk.out/ptc-ops-stackset.template.json")

stale=0
for template in "${templates[@]}"; do
    if [ ! -f "$template" ] || [ ! -f "$cdk/dist/bin/guard.js" ] \
        || [ -n "$(find "$cdk/lib" "$cdk/bin" "$cdk/permissions.json" "$cdk/package-lock.json" -newer "$template" -print -quit)" ]; then
        stale=1
    fi
done
if [ "$stale" -eq 1 ]; then
    echo "cfn-guard: synthesizing the CDK templates first"
    "$repo/scripts/cdk-synth.sh" >/dev/null
fi
cd "$cdk"
node dist/bin/guard.js "${templates[@]}"
