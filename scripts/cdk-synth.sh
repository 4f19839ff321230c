#!/usr/bin/env bash
# Synthesizes the CDK example app (infra/cdk/bin/app.ts) into infra/cdk/cdk.out/ and checks it:
# no `Transform` in any template (service-managed StackSets refuse them), cfn-lint clean, and the
# CDK tests pass. Installs what it needs: `npm ci` from the committed lockfile (skipped while
# node_modules matches it) and cfn-lint (scripts/setup-infra.sh). Offline once installed.
#
# Function code: target/lambda/<function>/bootstrap.zip when `make package` built all four;
# otherwise an empty placeholder bootstrap per function, enough to synthesize and check the
# template but not to deploy: the construct marks it with an error annotation, which `cdk deploy`
# refuses. PTC_CDK_LAMBDA_DIR chooses another folder. Works from any directory.
#
# Fails on any warning or error CDK annotated during synthesis (but that placeholder error), and
# when the StackSets template, minified, is over the 51,200 bytes `--template-body` takes.
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

# What CDK annotated while synthesizing (cdk synth would print it; the app run alone does not).
placeholder=0
[ "$lambda_dir" = "$cdk/build/placeholder" ] && placeholder=1
PTC_PLACEHOLDER="$placeholder" node -e '
const manifest = JSON.parse(require("fs").readFileSync("cdk.out/manifest.json", "utf8"));
let failed = false;
let placeholders = 0;
for (const [stack, artifact] of Object.entries(manifest.artifacts ?? {})) {
  // Newer CDK versions move the annotations to a file of their own.
  const metadata = artifact.additionalMetadataFile
    ? JSON.parse(require("fs").readFileSync(`cdk.out/${artifact.additionalMetadataFile}`, "utf8"))
    : artifact.metadata ?? {};
  for (const [path, entries] of Object.entries(metadata)) {
    for (const entry of entries) {
      if (entry.type !== "aws:cdk:warning" && entry.type !== "aws:cdk:error") continue;
      const text = typeof entry.data === "string" ? entry.data : JSON.stringify(entry.data);
      if (entry.type === "aws:cdk:error" && text.includes("[ecr-ptc-ops:placeholder-code]") && process.env.PTC_PLACEHOLDER === "1") {
        placeholders++;
        continue;
      }
      console.error(`cdk-synth: ${stack} ${path}: ${entry.type.replace("aws:cdk:", "")}: ${text}`);
      failed = true;
    }
  }
}
if (placeholders > 0) console.log(`cdk-synth: ${placeholders} placeholder-code errors annotated: cdk deploy refuses this cdk.out`);
process.exit(failed ? 1 : 0);
'

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
  const bytes = require("fs").statSync(file).size;
  const minified = Buffer.byteLength(JSON.stringify(template));
  console.log(`cdk-synth: ${file}: ${types.length} resources, no Transform, ${bytes} bytes (${minified} minified)`);
  // CreateStackSet and UpdateStackSet take at most 51,200 bytes in TemplateBody
  // (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
  if (file.endsWith("stackset.template.json") && minified > 51200) {
    console.error(`cdk-synth: ${file}: ${minified} bytes minified, over the 51,200 of --template-body`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
' "${templates[@]}"

# W3005: CDK makes each function DependsOn its role besides the GetAtt (harmless, redundant).
"$repo/.venv/infra/bin/cfn-lint" --ignore-checks W3005 -- "${templates[@]}"
echo "cdk-synth: cfn-lint clean"

node --test --test-reporter=spec dist/test/*.test.js
echo "cdk-synth: finished in $(( $(date +%s) - started ))s"
