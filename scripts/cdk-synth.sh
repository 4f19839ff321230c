#!/usr/bin/env bash
# Synthesizes the CDK example app (infra/cdk/bin/app.ts) into infra/cdk/cdk.out/ and checks it:
# no `Transform` in any template (service-managed StackSets refuse them), cfn-lint clean, and the
# CDK tests pass. Installs what it needs: `npm ci` from the committed lockfile (skipped while
# node_modules matches it) and cfn-lint (scripts/setup-infra.sh). Offline once installed.
#
# Function code: target/lambda/<function>/bootstrap.zip when `make package` built all four;
# otherwise an empty placeholder bootstrap per function, enough to synthesize and check the
# template but not to deploy. PTC_CDK_LAMBDA_DIR chooses another folder. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cdk="$repo/infra/cdk"
cd "$cdk"
started=$(date +%s)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "cdk-synth: need Node.js 20 or later and npm" >&2
    exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "cdk-synth: need Node.js 20 or later, found $(node --version)" >&2
    exit 1
fi

stamp="node_modules/.ptc-package-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$want" != "$(cat "$stamp" 2>/dev/null || true)" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
    echo "cdk-synth: installed node_modules from package-lock.json"
fi

"$repo/scripts/setup-infra.sh" >/dev/null

functions=(harden-repository validate-cache-rules check-credentials prewarm-images)
lambda_dir="${PTC_CDK_LAMBDA_DIR:-}"
if [ -z "$lambda_dir" ]; then
    lambda_dir="$repo/target/lambda"
    for function in "${functions[@]}"; do
        if [ ! -f "$lambda_dir/$function/bootstrap.zip" ]; then
            lambda_dir="$cdk/build/placeholder"
            break
        fi
    done
fi
if [ "$lambda_dir" = "$cdk/build/placeholder" ]; then
    for function in "${functions[@]}"; do
        mkdir -p "$lambda_dir/$function"
        : >"$lambda_dir/$function/bootstrap"
    done
    echo "cdk-synth: no zips from \`make package\`: placeholder code (synth and checks only, not deployable)"
else
    echo "cdk-synth: function code from ${lambda_dir#"$repo/"}"
fi

# Compile only when a source, the lockfile or the permissions file changed since the last build.
sources="$(cat package-lock.json tsconfig.json permissions.json lib/*.ts bin/*.ts test/*.ts | sha256sum | cut -d' ' -f1)"
built="dist/.ptc-sources.sha256"
if [ "$sources" != "$(cat "$built" 2>/dev/null || true)" ]; then
    node node_modules/typescript/bin/tsc -p .
    echo "$sources" >"$built"
fi
rm -rf cdk.out
# CDK's own template validation is skipped: cfn-lint below checks the same templates.
CDK_VALIDATION=false PTC_CDK_LAMBDA_DIR="$lambda_dir" node dist/bin/app.js

templates=(cdk.out/*.template.json)
node -e '
let failed = false;
for (const file of process.argv.slice(1)) {
  const template = JSON.parse(require("fs").readFileSync(file, "utf8"));
  if ("Transform" in template) {
    console.error(`cdk-synth: ${file} has a Transform (${JSON.stringify(template.Transform)}): StackSets refuse it`);
    failed = true;
  }
  const types = Object.values(template.Resources ?? {}).map((resource) => resource.Type);
  console.log(`cdk-synth: ${file}: ${types.length} resources, no Transform`);
}
process.exit(failed ? 1 : 0);
' "${templates[@]}"

# W3005: CDK makes each function DependsOn its role besides the GetAtt (harmless, redundant).
"$repo/.venv/infra/bin/cfn-lint" --ignore-checks W3005 -- "${templates[@]}"
echo "cdk-synth: cfn-lint clean"

node --test --test-reporter=spec dist/test/*.test.js
echo "cdk-synth: finished in $(( $(date +%s) - started ))s"
