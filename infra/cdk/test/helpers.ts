// What the tests share: a synthesized stack, the SAM template read as CloudFormation reads it,
// and a resolver that turns intrinsic functions into comparable text.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as YAML from 'yaml';

import { EcrPtcOps, EcrPtcOpsProps, FUNCTION_NAMES } from '../lib';

// CDK's own template validation at each synth costs seconds; make cdk-synth runs cfn-lint on
// the app's templates instead.
process.env.CDK_VALIDATION = 'false';

export const ACCOUNT = '111111111111';
export const REGION = 'eu-west-1';

/** The repository (dist/test → infra/cdk → repository). */
export const REPOSITORY = path.resolve(__dirname, '..', '..', '..', '..');

let placeholder: string | undefined;

/** A folder with an empty `<function>/bootstrap` per function: enough to synthesize. */
export function placeholderCode(): string {
  if (placeholder === undefined) {
    placeholder = fs.mkdtempSync(path.join(os.tmpdir(), 'ecr-ptc-ops-cdk-test-'));
    for (const name of FUNCTION_NAMES) {
      fs.mkdirSync(path.join(placeholder, name));
      fs.writeFileSync(path.join(placeholder, name, 'bootstrap'), '');
    }
  }
  return placeholder;
}

/** The stack `EcrPtcOps` makes with these props, in a fixed account and region. */
export function synth(props: EcrPtcOpsProps = {}): Template {
  const app = new App({ analyticsReporting: false });
  const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
  new EcrPtcOps(stack, 'EcrPtcOps', { functionCodeDirectory: placeholderCode(), allowPlaceholderCode: true, ...props });
  return Template.fromStack(stack);
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, any>; [key: string]: any }>;

export function resources(template: Template): Resources {
  return template.toJSON().Resources as Resources;
}

export function ofType(template: Template, type: string): [string, Resources[string]][] {
  return Object.entries(resources(template)).filter(([, resource]) => resource.Type === type);
}

/**
 * A CloudFormation value as text: pseudo parameters of the fixed account, `{{Logical}}` for a
 * `Ref` to a resource and `{{Logical.Attribute}}` for a `GetAtt`, `Fn::Join` joined.
 */
export function resolve(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  const object = value as Record<string, any>;
  if ('Ref' in object) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[object.Ref] ?? `{{${object.Ref}}}`;
  }
  if ('Fn::GetAtt' in object) {
    const [resource, attribute] = object['Fn::GetAtt'];
    return `{{${resource}.${attribute}}}`;
  }
  if ('Fn::Join' in object) {
    const [delimiter, parts] = object['Fn::Join'];
    return (parts as unknown[]).map(resolve).join(delimiter);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/**
 * The ARN pattern both `allowed` and `kept` match when, part by part, one is the narrower (a `*`
 * partition, region or account takes the other's; the resource of `allowed` lies under the
 * resource of `kept`); undefined when they share nothing. How a `Deny` on `NotResource: kept`
 * narrows a grant on `allowed`.
 */
export function intersectArn(allowed: string, kept: string): string | undefined {
  const a = allowed.split(':');
  const k = kept.split(':');
  if (a.length < 6 || k.length < 6) {
    return undefined;
  }
  const parts: string[] = [];
  for (let index = 0; index < 5; index++) {
    if (a[index] === k[index] || k[index] === '*') {
      parts.push(a[index]);
    } else if (a[index] === '*') {
      parts.push(k[index]);
    } else {
      return undefined;
    }
  }
  const resource = a.slice(5).join(':');
  const within = k.slice(5).join(':');
  const inside = within.endsWith('*') ? resource.startsWith(within.slice(0, -1)) : resource === within;
  return inside ? [...parts, resource].join(':') : undefined;
}

export const oneOrMany = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

// ---- the SAM template ----------------------------------------------------------------------

const SHORT_TAGS = [
  'Ref', 'Condition', 'Sub', 'Join', 'Split', 'If', 'Not', 'Equals', 'And', 'Or', 'Select',
  'FindInMap', 'Base64', 'Cidr', 'GetAZs', 'ImportValue', 'Transform', 'ToJsonString', 'Length',
];

/** CloudFormation's short tags in their long form (`!Ref X` → `{"Ref": "X"}`). */
const CLOUDFORMATION_TAGS: YAML.Tags = [
  ...SHORT_TAGS.flatMap((name) => {
    const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
    return [
      { tag: `!${name}`, resolve: (text: string) => ({ [key]: text }) },
      { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: YAML.YAMLSeq) => ({ [key]: seq.toJSON() }) },
      { tag: `!${name}`, collection: 'map' as const, resolve: (map: YAML.YAMLMap) => ({ [key]: map.toJSON() }) },
    ];
  }),
  {
    tag: '!GetAtt',
    resolve: (text: string) => {
      const dot = text.indexOf('.');
      return { 'Fn::GetAtt': [text.slice(0, dot), text.slice(dot + 1)] };
    },
  },
  { tag: '!GetAtt', collection: 'seq', resolve: (seq: YAML.YAMLSeq) => ({ 'Fn::GetAtt': seq.toJSON() }) },
] as YAML.Tags;

let sam: any;

/** infra/template.yaml as JSON. */
export function samTemplate(): any {
  if (sam === undefined) {
    const text = fs.readFileSync(path.join(REPOSITORY, 'infra', 'template.yaml'), 'utf8');
    sam = YAML.parse(text, { customTags: CLOUDFORMATION_TAGS, uniqueKeys: true });
  }
  return sam;
}

/** The SAM template's resources, `Fn::ForEach` blocks left out. */
export function samResources(): Record<string, any> {
  return Object.fromEntries(
    Object.entries(samTemplate().Resources as Record<string, any>).filter(([key]) => !key.startsWith('Fn::ForEach::')),
  );
}

/** Each `Fn::ForEach` block's output resources (one per managed prefix once expanded). */
export function samLoopOutputs(): Record<string, any> {
  const outputs: Record<string, any> = {};
  for (const [key, body] of Object.entries(samTemplate().Resources as Record<string, any>)) {
    if (key.startsWith('Fn::ForEach::')) {
      Object.assign(outputs, body[2]);
    }
  }
  return outputs;
}

/** The parameter's default, as the construct takes it (lists split, numbers and booleans typed). */
export function samDefault(name: string): unknown {
  const parameter = samTemplate().Parameters[name];
  if (parameter === undefined) {
    throw new Error(`infra/template.yaml has no parameter ${name}`);
  }
  const raw = String(parameter.Default ?? '');
  if (parameter.Type === 'CommaDelimitedList') {
    return raw === '' ? [] : raw.split(',').map((item) => item.trim());
  }
  if (parameter.Type === 'Number') {
    return Number(raw);
  }
  if (JSON.stringify(parameter.AllowedValues) === JSON.stringify(['true', 'false'])) {
    return raw === 'true';
  }
  return raw;
}
