// AWS Control Tower's proactive controls on synthesized templates: the cfn-guard rules that ship
// in @cdklabs/cdk-validator-cfnguard, run with the cfn-guard binary it bundles (offline).
//
//   node dist/bin/guard.js cdk.out/*.template.json
//
// prints each failing control and fails unless every failure is one of DOCUMENTED: the controls
// docs/organisation.md lists (Control Tower) with the prop or parameter that satisfies them, or why the
// product cannot.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
const RULES = path.join(PACKAGE, 'rules', 'control-tower', 'cfn-guard');

/** Failing controls a default deployment keeps, and what satisfies each (docs/organisation.md, Control Tower). */
export const DOCUMENTED: Record<string, string> = {
  cloudwatch_log_group_retention_period_check: 'CT.CLOUDWATCH.PR.2: logRetentionDays (LogRetentionDays) of 365 or more',
  cloudwatch_log_group_encrypted_check: 'CT.CLOUDWATCH.PR.3: logKey (LogKmsKeyArn)',
  lambda_inside_vpc_check: 'CT.LAMBDA.PR.3: not supported, the functions call the upstream registries and AWS APIs',
  sqs_dlq_check: 'CT.SQS.PR.1: the queue is itself the dead-letter queue of the functions',
};

/** The bundled binary for this machine. */
export function guardBinary(): string {
  const system = process.platform === 'darwin' ? 'macos' : process.platform === 'linux' ? 'ubuntu' : undefined;
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
  const binary = system && arch ? path.join(PACKAGE, 'bin', system, arch, 'cfn-guard') : undefined;
  if (binary === undefined || !fs.existsSync(binary)) {
    throw new Error(`cfn-guard: @cdklabs/cdk-validator-cfnguard bundles no binary for ${process.platform}/${process.arch}`);
  }
  return binary;
}

/** The rule names that fail on `template` (a file), each with the resources it names. */
export function failingControls(template: string): Map<string, string[]> {
  let output: string;
  try {
    output = execFileSync(guardBinary(), ['validate', '--rules', RULES, '--data', template, '--output-format', 'json', '--show-summary', 'none'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // cfn-guard exits 19 when a rule fails; its report is on stdout all the same.
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    if (failed.status !== 19 || failed.stdout === undefined) {
      throw new Error(`cfn-guard failed on ${template} (exit ${failed.status}): ${failed.stderr ?? ''}`);
    }
    output = failed.stdout;
  }
  const failing = new Map<string, string[]>();
  // One JSON document per rule file, back to back.
  for (const document of splitDocuments(output)) {
    for (const entry of document.not_compliant ?? []) {
      const rule = entry?.Rule;
      if (rule?.name === undefined) {
        continue;
      }
      const paths = [...JSON.stringify(rule).matchAll(/"path":"\/Resources\/([^/"]+)/g)].map((match) => match[1]);
      failing.set(rule.name, [...new Set([...(failing.get(rule.name) ?? []), ...paths])].sort());
    }
  }
  return failing;
}

function splitDocuments(text: string): any[] {
  const documents: any[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') {
      if (depth === 0) start = index;
      depth++;
    } else if (char === '}') {
      depth--;
      if (depth === 0) documents.push(JSON.parse(text.slice(start, index + 1)));
    }
  }
  return documents;
}

if (require.main === module) {
  let failed = false;
  for (const template of process.argv.slice(2)) {
    const failing = failingControls(template);
    for (const [rule, resources] of failing) {
      const documented = DOCUMENTED[rule];
      console.log(`cfn-guard: ${path.basename(template)}: ${rule} (${resources.join(', ') || 'template'}): ${documented ?? 'NOT DOCUMENTED'}`);
      failed ||= documented === undefined;
    }
    console.log(`cfn-guard: ${path.basename(template)}: ${failing.size} Control Tower controls fail, ${[...failing.keys()].filter((r) => !(r in DOCUMENTED)).length} undocumented`);
  }
  process.exit(failed ? 1 : 0);
}
