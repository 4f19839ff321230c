// Each CDK role grants exactly what permissions.json (`ptc permissions --json`, checked against
// the code by a Rust test) declares: every action on every resource with its condition, nothing
// more, for several settings of the props.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Template } from 'aws-cdk-lib/assertions';

import { EcrPtcOpsProps, ROLES, RoleEntry } from '../lib';
import { ACCOUNT, REGION, intersectArn, ofType, oneOrMany, resolve, synth } from './helpers';

const KEY = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** `action resource condition`, one per grant. */
type Grants = Set<string>;

function grant(action: string, resource: string, condition: unknown): string {
  return `${action} ${resource} ${condition === undefined ? '' : JSON.stringify(condition)}`;
}

/** What a role of the synthesized template grants, its inline and attached policies together. */
function granted(template: Template, roleId: string): Grants {
  const role = ofType(template, 'AWS::IAM::Role').find(([id]) => id === roleId)![1];
  const documents: any[] = (role.Properties?.Policies ?? []).map((policy: any) => policy.PolicyDocument);
  for (const [, policy] of ofType(template, 'AWS::IAM::Policy')) {
    if (policy.Properties?.Roles.some((r: any) => r.Ref === roleId)) {
      documents.push(policy.Properties?.PolicyDocument);
    }
  }
  // A Deny on everything but `NotResource` narrows the grants of its actions to that pattern.
  const kept = new Map<string, string[]>();
  for (const statement of documents.flatMap((document) => document.Statement).filter((s: any) => s.Effect === 'Deny')) {
    assert.equal(statement.Resource, undefined, 'a Deny names what it keeps, with NotResource');
    assert.equal(statement.Condition, undefined);
    for (const action of oneOrMany<string>(statement.Action)) {
      kept.set(action, [...(kept.get(action) ?? []), ...oneOrMany<unknown>(statement.NotResource).map(resolve)]);
    }
  }
  const grants: Grants = new Set();
  for (const statement of documents.flatMap((document) => document.Statement)) {
    if (statement.Effect === 'Deny') {
      continue;
    }
    assert.equal(statement.Effect, 'Allow');
    const condition =
      statement.Condition === undefined
        ? undefined
        : JSON.parse(JSON.stringify(statement.Condition, (_, v) => (v !== null && typeof v === 'object' && 'Ref' in v ? resolve(v) : v)));
    for (const action of oneOrMany<string>(statement.Action)) {
      for (const resource of oneOrMany<unknown>(statement.Resource)) {
        const patterns = kept.get(action);
        const narrowed = patterns === undefined ? resolve(resource) : patterns.map((p) => intersectArn(resolve(resource), p)).find((r) => r !== undefined);
        if (narrowed !== undefined) {
          grants.add(grant(action, narrowed, condition));
        }
      }
    }
  }
  return grants;
}

/** What `entry` grants in the synthesized template, rendered from the file alone. */
function expected(template: Template, entry: RoleEntry, props: EcrPtcOpsProps): Grants {
  const prefixes = props.managedPrefixes ?? ['docker-hub', 'ghcr', 'k8s'];
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  const only = (type: string): string => {
    const found = ofType(template, type);
    assert.equal(found.length, 1, type);
    return found[0][0];
  };
  const functionName = `ptc-ops-${entry.function}`;
  const logGroup = ofType(template, 'AWS::Logs::LogGroup').find(([, g]) => g.Properties?.LogGroupName === `/aws/lambda/${functionName}`);
  const templateRole = ofType(template, 'AWS::IAM::Role').find(
    ([, r]) => r.Properties?.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'ecr.amazonaws.com',
  )![0];
  const scopes: Record<string, string[]> = {
    'managed-repositories': prefixes.map((prefix) => arn('ecr', `repository/${prefix}/*`)),
    registry: [arn('ecr', 'repository/*')],
    'credential-secrets': [arn('secretsmanager', 'secret:ecr-pullthroughcache/*')],
    'alert-topic': [`{{${only('AWS::SNS::Topic')}}}`],
    'own-function': [arn('lambda', `function:${functionName}`), arn('lambda', `function:${functionName}:*`)],
    'own-log-group': logGroup === undefined ? [] : [`{{${logGroup[0]}.Arn}}`],
    'failure-queue': [`{{${only('AWS::SQS::Queue')}.Arn}}`],
    'secret-keys': props.secretKmsKeyArns ?? [],
    'any-resource': ['*'],
    'template-role': [`{{${templateRole}.Arn}}`],
    'consumer-principals': props.consumerPrincipalArns ?? [],
    'upstream-roles': props.upstreamRoleArns ?? [],
    'state-table': [`{{${only('AWS::DynamoDB::Table')}.Arn}}`],
    'template-keys': props.templateKmsKeyArns ?? [],
    'alert-topic-keys': props.alertTopicKey === undefined ? [] : [props.alertTopicKey.keyArn],
  };
  const conditions = (condition: Record<string, string>): unknown => {
    const [[kind, value]] = Object.entries(condition);
    switch (kind) {
      case 'tag-keys':
        return {
          'ForAllValues:StringEquals': {
            'aws:TagKeys': value === 'hardening' ? props.hardeningTagKeys ?? ['managed-by', 'cost-center'] : [props.credentialExpiryTag ?? 'ptc-ops:expires-at'],
          },
        };
      case 'via-service':
        return { StringEquals: { 'kms:ViaService': `${value}.${REGION}.amazonaws.com` } };
      case 'passed-to-service':
        return { StringEquals: { 'iam:PassedToService': value } };
      default:
        throw new Error(`unknown condition ${kind}`);
    }
  };
  const grants: Grants = new Set();
  for (const permission of entry.permissions) {
    if (permission['only-with'] === 'credential-write-back' && props.credentialWriteBack !== true) {
      continue;
    }
    const resources = scopes[permission.scope];
    assert.ok(resources !== undefined, `the test knows no scope ${permission.scope}`);
    for (const resource of resources) {
      grants.add(grant(permission.action, resource, permission.condition === null ? undefined : conditions(permission.condition)));
    }
  }
  return grants;
}

/** The CDK role of each entry: a function's by its name, the templates' role by its trust. */
function roleOf(template: Template, entry: RoleEntry): string {
  if (entry.function === null) {
    const found = ofType(template, 'AWS::IAM::Role').find(
      ([, r]) => r.Properties?.AssumeRolePolicyDocument.Statement[0].Principal.Service === entry['trusted-by'],
    );
    assert.ok(found, `no role trusted by ${entry['trusted-by']}`);
    return found[0];
  }
  const fn = ofType(template, 'AWS::Lambda::Function').find(([, f]) => f.Properties?.FunctionName === `ptc-ops-${entry.function}`);
  assert.ok(fn, `no function ${entry.function}`);
  return fn[1].Properties?.Role['Fn::GetAtt'][0];
}

describe('roles from permissions.json', () => {
  const cases: [string, EcrPtcOpsProps][] = [
    ['defaults', {}],
    ['other prefixes, one with /', { managedPrefixes: ['docker-hub', 'team/app', 'quay'] }],
    [
      'write-back on, a customer managed key, other tag keys',
      { credentialWriteBack: true, credentialExpiryTag: 'team:token-expiry', secretKmsKeyArns: [KEY], hardeningTagKeys: ['owner', 'team'] },
    ],
    [
      'consumers to simulate and ECR-to-ECR custom roles',
      {
        consumerPrincipalArns: ['arn:aws:iam::111111111111:role/eks-node', 'arn:aws:iam::111111111111:user/ci'],
        upstreamRoleArns: ['arn:aws:iam::111111111111:role/ptc-upstream'],
      },
    ],
  ];

  it('lists the four functions and the creation templates role', () => {
    assert.deepEqual(
      ROLES.map((role) => role.role),
      ['harden-repository', 'validate-cache-rules', 'check-credentials', 'prewarm-images', 'creation-template'],
    );
    for (const role of ROLES) {
      for (const permission of role.permissions) {
        assert.ok(!permission.action.includes('*'), `${role.role}: ${permission.action}`);
      }
    }
  });

  for (const [name, props] of cases) {
    it(`each role grants exactly its permissions: ${name}`, () => {
      const template = synth(props);
      for (const entry of ROLES) {
        const role = roleOf(template, entry);
        const actual = granted(template, role);
        const wanted = expected(template, entry, props);
        const missing = [...wanted].filter((g) => !actual.has(g));
        const extra = [...actual].filter((g) => !wanted.has(g));
        assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${entry.role} (${role})`);
        const trust = ofType(template, 'AWS::IAM::Role').find(([id]) => id === role)![1].Properties?.AssumeRolePolicyDocument;
        assert.deepEqual(trust.Statement, [{ Effect: 'Allow', Principal: { Service: entry['trusted-by'] }, Action: 'sts:AssumeRole' }]);
      }
    });
  }

  it('grants neither tagging of secrets nor decryption by default', () => {
    const template = synth();
    const credentials = ROLES.find((role) => role.function === 'check-credentials')!;
    const actions = [...granted(template, roleOf(template, credentials))].map((g) => g.split(' ')[0]);
    assert.ok(!actions.includes('secretsmanager:TagResource'));
    assert.ok(!actions.includes('kms:Decrypt'));
  });
});
