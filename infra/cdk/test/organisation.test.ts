// The construct deployed the way organisations do: many accounts and regions, 50 managed
// prefixes, a central alert topic, landing-zone guardrails, and two instances in one stack.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';

import { DOCUMENTED, failingControls } from '../bin/guard';
import { EcrPtcOps, EcrPtcOpsProps, FUNCTION_NAMES } from '../lib';
import { ACCOUNT, REGION, ofType, oneOrMany, placeholderCode, resolve, synth } from './helpers';

/** IAM's quota for all the inline policies of one role together, white space not counted
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
const ROLE_INLINE_POLICY_LIMIT = 10240;
const CENTRAL_TOPIC = 'arn:aws:sns:eu-west-1:222222222222:org-alerts';

/** One instance in a stack of its own; `props` may build what it needs in that stack. */
function inStack(props: EcrPtcOpsProps | ((stack: Stack) => EcrPtcOpsProps) = {}): { stack: Stack; ops: EcrPtcOps } {
  const app = new App({ analyticsReporting: false });
  const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
  const given = typeof props === 'function' ? props(stack) : props;
  const ops = new EcrPtcOps(stack, 'EcrPtcOps', { functionCodeDirectory: placeholderCode(), allowPlaceholderCode: true, ...given });
  return { stack, ops };
}

/** Each role's inline policies as IAM counts them: compact JSON, each CloudFormation reference counted as 128 characters. */
function policySizes(template: Template): Record<string, number> {
  const sizes: Record<string, number> = {};
  const roles = ofType(template, 'AWS::IAM::Role');
  for (const [roleId, role] of roles) {
    const documents: any[] = (role.Properties?.Policies ?? []).map((policy: any) => policy.PolicyDocument);
    for (const [, policy] of ofType(template, 'AWS::IAM::Policy')) {
      if (policy.Properties?.Roles.some((r: any) => r.Ref === roleId)) {
        documents.push(policy.Properties?.PolicyDocument);
      }
    }
    const text = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value, (_, v) =>
          v !== null && typeof v === 'object' && ('Ref' in v || 'Fn::GetAtt' in v || 'Fn::Join' in v) ? resolve(v) : v,
        ),
      );
    sizes[roleId] = documents
      .map((document) =>
        JSON.stringify(text(document))
          .replace(/\{\{[A-Za-z0-9.]+\}\}/g, 'x'.repeat(128))
          .replaceAll(REGION, 'ap-southeast-2'),
      )
      .reduce((sum, json) => sum + json.length, 0);
  }
  return sizes;
}

describe('EcrPtcOps at organisation scale', () => {
  it('names its dashboard after the region too: dashboards are global to the account', () => {
    synth().hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `ptc-ops-${REGION}` });
  });

  it('fits 50 managed prefixes of 30 characters in every role, each granted in this registry only', () => {
    const prefixes = Array.from({ length: 50 }, (_, index) => `team-${String(index).padStart(2, '0')}/platform-images-caches`);
    assert.ok(prefixes.every((prefix) => prefix.length === 30));
    const key = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { stack } = inStack((scope) => ({
      alertTopic: sns.Topic.fromTopicArn(scope, 'Central', CENTRAL_TOPIC),
      alertTopicKey: kms.Key.fromKeyArn(scope, 'CentralKey', 'arn:aws:kms:eu-west-1:222222222222:key/9abcabcd-12ab-34cd-56ef-1234567890ab'),
      managedPrefixes: prefixes,
      credentialWriteBack: true,
      secretKmsKeyArns: [key],
      templateKmsKeyArns: [key],
      consumerPrincipalArns: Array.from({ length: 10 }, (_, i) => `arn:aws:iam::111111111111:role/eks-node-group-${i}`),
      hardeningTagKeys: Array.from({ length: 10 }, (_, i) => `cost-center-${i}`),
    }));
    const template = Template.fromStack(stack);
    const sizes = policySizes(template);
    console.log(`inline policy characters per role with 50 prefixes: ${JSON.stringify(sizes)}`);
    assert.equal(Object.keys(sizes).length, 5);
    for (const [role, size] of Object.entries(sizes)) {
      assert.ok(size <= ROLE_INLINE_POLICY_LIMIT, `${role}: ${size} characters, over IAM's ${ROLE_INLINE_POLICY_LIMIT}`);
    }
    // Every role that lists the prefixes denies their actions outside this registry.
    for (const [roleId, role] of ofType(template, 'AWS::IAM::Role')) {
      const documents: any[] = [
        ...(role.Properties?.Policies ?? []).map((p: any) => p.PolicyDocument),
        ...ofType(template, 'AWS::IAM::Policy')
          .filter(([, p]) => p.Properties?.Roles.some((r: any) => r.Ref === roleId))
          .map(([, p]) => p.Properties?.PolicyDocument),
      ];
      const statements = documents.flatMap((d) => d.Statement);
      const wide = statements.filter((s: any) => oneOrMany<unknown>(s.Resource).some((r) => typeof r === 'string' && r.startsWith('arn:*:ecr:*:*:')));
      const denied = statements.filter((s: any) => s.Effect === 'Deny');
      if (wide.length === 0) {
        continue;
      }
      assert.equal(denied.length, 1, roleId);
      assert.equal(resolve(denied[0].NotResource), `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/*`, roleId);
      for (const action of wide.flatMap((s: any) => oneOrMany<string>(s.Action))) {
        assert.ok(oneOrMany<string>(denied[0].Action).includes(action), `${roleId}: ${action} is not taken back outside this registry`);
      }
    }
  });

  it('publishes to an existing topic instead of creating one (alertTopic)', () => {
    const other = inStack((stack) => ({ alertTopic: sns.Topic.fromTopicArn(stack, 'Central', CENTRAL_TOPIC) }));
    const template = Template.fromStack(other.stack);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::KMS::Alias', 0);
    assert.equal(other.ops.topic.topicArn, CENTRAL_TOPIC);
    for (const [id, alarm] of ofType(template, 'AWS::CloudWatch::Alarm')) {
      assert.deepEqual(alarm.Properties?.AlarmActions, [CENTRAL_TOPIC], id);
      assert.deepEqual(alarm.Properties?.OKActions, [CENTRAL_TOPIC], id);
    }
    assert.equal(Object.keys(other.ops.alarms).length, 11);
    for (const [, fn] of ofType(template, 'AWS::Lambda::Function')) {
      assert.equal(fn.Properties?.Environment.Variables.PTC_ALERT_TOPIC_ARN, CENTRAL_TOPIC);
    }
    const publish = ofType(template, 'AWS::IAM::Role').flatMap(([, role]) =>
      (role.Properties?.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement).filter((s: any) => oneOrMany(s.Action).includes('sns:Publish')),
    );
    assert.equal(publish.length, 4, 'each function publishes');
    for (const statement of publish) {
      assert.deepEqual(oneOrMany(statement.Resource), [CENTRAL_TOPIC]);
    }
    assert.throws(
      () => inStack((stack) => ({ alertTopic: sns.Topic.fromTopicArn(stack, 'Central', CENTRAL_TOPIC), alertEmail: 'a@example.com' })),
      /alertTopic: is an existing topic/,
    );
    // An encrypted central topic: each function may use its key, through SNS only.
    const key = 'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const encrypted = Template.fromStack(
      inStack((stack) => ({
        alertTopic: sns.Topic.fromTopicArn(stack, 'Central', CENTRAL_TOPIC),
        alertTopicKey: kms.Key.fromKeyArn(stack, 'CentralKey', key),
      })).stack,
    );
    const keyStatements = ofType(encrypted, 'AWS::IAM::Role').flatMap(([, role]) =>
      (role.Properties?.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement).filter((s: any) => oneOrMany(s.Resource).includes(key)),
    );
    assert.equal(keyStatements.length, 4, 'each function uses the central key');
    for (const statement of keyStatements) {
      assert.deepEqual(oneOrMany(statement.Action).sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
      assert.equal(resolve(statement.Condition.StringEquals['kms:ViaService']), `sns.${REGION}.amazonaws.com`);
    }
  });

  it('encrypts its own topic with a given key instead of creating one (alertTopicKey)', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new EcrPtcOps(stack, 'EcrPtcOps', { functionCodeDirectory: placeholderCode(), allowPlaceholderCode: true, alertTopicKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: key.keyArn });
  });

  it('puts the permissions boundary on every role, the log key on every log group, and leaves concurrency unreserved at 0', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
    const boundary = iam.ManagedPolicy.fromManagedPolicyName(stack, 'Boundary', 'landing-zone-boundary');
    const logKey = kms.Key.fromKeyArn(stack, 'LogKey', 'arn:aws:kms:eu-west-1:111111111111:key/5678abcd-12ab-34cd-56ef-1234567890ab');
    new EcrPtcOps(stack, 'EcrPtcOps', {
      functionCodeDirectory: placeholderCode(),
      allowPlaceholderCode: true,
      permissionsBoundary: boundary,
      logKey,
      hardenReservedConcurrency: 0,
    });
    const template = Template.fromStack(stack);
    const roles = ofType(template, 'AWS::IAM::Role');
    assert.equal(roles.length, 5);
    for (const [id, role] of roles) {
      assert.equal(resolve(role.Properties?.PermissionsBoundary), `arn:aws:iam::${ACCOUNT}:policy/landing-zone-boundary`, id);
    }
    const groups = ofType(template, 'AWS::Logs::LogGroup');
    assert.equal(groups.length, 4);
    for (const [id, group] of groups) {
      assert.equal(group.Properties?.KmsKeyId, logKey.keyArn, id);
    }
    for (const [id, fn] of ofType(template, 'AWS::Lambda::Function')) {
      assert.equal(fn.Properties?.ReservedConcurrentExecutions, undefined, id);
    }
    for (const [id, role] of ofType(synth(), 'AWS::IAM::Role')) {
      assert.equal(role.Properties?.PermissionsBoundary, undefined, `${id}: none by default`);
    }
  });

  it('fits twice in one stack: outputs are opt-in and each instance needs its own name prefix', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
    const common = { functionCodeDirectory: placeholderCode(), allowPlaceholderCode: true };
    new EcrPtcOps(stack, 'Team', { ...common, namePrefix: 'ptc-team' });
    new EcrPtcOps(stack, 'Platform', { ...common, namePrefix: 'ptc-platform', managedPrefixes: ['quay'] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 8);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 2);
    assert.deepEqual(template.toJSON().Outputs ?? {}, {}, 'no outputs unless asked');
    assert.throws(() => new EcrPtcOps(stack, 'Again', { ...common, namePrefix: 'ptc-team' }), /namePrefix: "ptc-team" is already the name prefix of ptc-ops\/Team/);
    const withOutputs = inStack({ outputs: true });
    assert.ok('AlertTopicArn' in (Template.fromStack(withOutputs.stack).toJSON().Outputs ?? {}));
  });

  it('refuses placeholder code with an error annotation unless allowed', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new Stack(app, 'ptc-ops', { env: { account: ACCOUNT, region: REGION } });
    new EcrPtcOps(stack, 'EcrPtcOps', { functionCodeDirectory: placeholderCode() });
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('placeholder-code'));
    assert.equal(errors.length, FUNCTION_NAMES.length);
    assert.match(String(errors[0].entry.data), /make package/);
    const allowed = inStack();
    assert.equal(Annotations.fromStack(allowed.stack).findError('*', Match.anyValue()).length, 0);
  });

  it('exposes grant and metric helpers the alarms agree with', () => {
    const { stack, ops } = inStack();
    const role = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    ops.grantInvoke(role, 'harden-repository');
    ops.grantPublish(role);
    const template = Template.fromStack(stack);
    const policy = ofType(template, 'AWS::IAM::Policy').find(([, p]) => p.Properties?.Roles.some((r: any) => r.Ref.startsWith('Operator')));
    assert.ok(policy, 'the operator role got a policy');
    const actions = policy[1].Properties?.PolicyDocument.Statement.flatMap((s: any) => oneOrMany<string>(s.Action));
    assert.ok(actions.includes('lambda:InvokeFunction') && actions.includes('sns:Publish'), JSON.stringify(actions));
    const metric = ops.metricRulesInvalid();
    assert.equal(metric.namespace, 'EcrPtcOps');
    assert.equal(metric.metricName, 'RulesInvalid');
    assert.deepEqual(metric.dimensions, { Function: 'validate-cache-rules' });
    const alarm = ofType(template, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties?.MetricName === 'RulesInvalid')!;
    assert.equal(alarm[1].Properties?.Statistic, metric.statistic);
    assert.equal(alarm[1].Properties?.Period, metric.period.toSeconds());
    assert.equal(ops.metricHardeningFailures().statistic, 'Sum');
  });
});

describe('Control Tower proactive controls (cfn-guard)', () => {
  const failing = (props: EcrPtcOpsProps | ((stack: Stack) => EcrPtcOpsProps)): string[] => {
    const { stack } = inStack(props);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ecr-ptc-ops-guard-')), 'template.json');
    fs.writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON()));
    return [...failingControls(file).keys()].sort();
  };

  it('fails by default on the documented controls only', () => {
    assert.deepEqual(failing({}), Object.keys(DOCUMENTED).sort());
  });

  it('passes the log controls with the props docs/organisation.md names; the two left cannot be met', () => {
    const left = failing((stack) => ({
      logRetentionDays: 365,
      logKey: kms.Key.fromKeyArn(stack, 'LogKey', 'arn:aws:kms:eu-west-1:111111111111:key/5678abcd-12ab-34cd-56ef-1234567890ab'),
    }));
    assert.deepEqual(left, ['lambda_inside_vpc_check', 'sqs_dlq_check']);
  });
});

describe('functionFactory', () => {
  it('makes each function with the props the construct decided, and refuses the stand-in code', () => {
    const made: string[] = [];
    const { stack, ops } = inStack({
      functionCodeDirectory: undefined,
      // As cargo-lambda-cdk's RustFunction would: the construct's props, the code of its own build.
      functionFactory: (scope, id, props, name) => {
        made.push(name);
        return new lambda.Function(scope, id, { ...props, code: lambda.Code.fromAsset(path.join(placeholderCode(), name)) });
      },
    });
    assert.deepEqual(made, [...FUNCTION_NAMES]);
    const template = Template.fromStack(stack);
    for (const name of FUNCTION_NAMES) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `ptc-ops-${name}`,
        Architectures: ['arm64'],
        Code: { S3Key: Match.stringLikeRegexp('\\.zip$') },
      });
      assert.ok(ops.functions[name] instanceof lambda.Function);
    }
    assert.equal(Annotations.fromStack(stack).findError('*', Match.anyValue()).length, 0);

    assert.throws(
      () => inStack({ functionCodeDirectory: undefined, functionFactory: (scope, id, props) => new lambda.Function(scope, id, props) }),
      /functionFactory: harden-repository was made with the stand-in code/,
    );
  });
});
