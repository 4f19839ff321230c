// The construct against infra/template.yaml: the same defaults, event patterns, schedules and
// resources, so the CDK and SAM deployments stay one product.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

import { DEFAULTS, EVENT_PATTERNS, EcrPtcOpsProps, REGISTRY_EVENT_PATTERNS } from '../lib';
import { ofType, oneOrMany, resolve, samDefault, samLoopOutputs, samResources, samTemplate, synth } from './helpers';

/** The SAM parameter each prop mirrors. */
const PARAMETERS: Record<keyof typeof DEFAULTS, string> = {
  managedPrefixes: 'ManagedPrefixes',
  hardeningTagKeys: 'HardeningTagKeys',
  credentialWriteBack: 'CredentialWriteBack',
  credentialExpiryTag: 'CredentialExpiryTag',
  secretKmsKeyArns: 'SecretKmsKeyArns',
  templateKmsKeyArns: 'TemplateKmsKeyArns',
  consumerPrincipalArns: 'ConsumerPrincipalArns',
  upstreamRoleArns: 'UpstreamRoleArns',
  alertEmail: 'AlertEmail',
  sweepSchedule: 'SweepSchedule',
  ruleValidationSchedule: 'RuleValidationSchedule',
  credentialCheckSchedule: 'CredentialCheckSchedule',
  prewarmSchedule: 'PrewarmSchedule',
  prewarmImages: 'PrewarmImages',
  logLevel: 'LogLevel',
  logRetentionDays: 'LogRetentionDays',
  hardenReservedConcurrency: 'HardenReservedConcurrency',
};

/** The props that take an existing resource where the SAM parameter takes its ARN (default none). */
const RESOURCE_PARAMETERS: Partial<Record<keyof EcrPtcOpsProps, string>> = {
  alertTopic: 'ExistingAlertTopicArn',
  alertTopicKey: 'ExistingAlertTopicKmsKeyArn',
  permissionsBoundary: 'PermissionsBoundaryArn',
  logKey: 'LogKmsKeyArn',
};

/** Compares JSON values whatever the order of their keys. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

describe('EcrPtcOps and infra/template.yaml', () => {
  const template = synth();
  const sam = samTemplate();
  const samFunctions = Object.entries(samResources()).filter(([, r]) => r.Type === 'AWS::Serverless::Function');

  it('has a prop for every SAM parameter, with its default', () => {
    assert.deepEqual(
      [...Object.values(PARAMETERS), ...Object.values(RESOURCE_PARAMETERS)].sort(),
      Object.keys(sam.Parameters).sort(),
      'one prop per parameter',
    );
    for (const parameter of Object.values(RESOURCE_PARAMETERS)) {
      assert.equal(samDefault(parameter!), '', `${parameter}: none by default, as the prop`);
    }
    for (const [prop, parameter] of Object.entries(PARAMETERS)) {
      assert.deepEqual(DEFAULTS[prop as keyof typeof DEFAULTS], samDefault(parameter), `${prop} mirrors ${parameter}`);
    }
  });

  it('routes the same event patterns to harden-repository', () => {
    const samPatterns = samFunctions.flatMap(([, fn]) =>
      Object.values(fn.Properties.Events ?? {})
        .filter((event: any) => event.Type === 'EventBridgeRule')
        .map((event: any) => canonical(event.Properties.Pattern)),
    );
    assert.ok(samPatterns.length >= 3);
    // The construct's own role stands where the SAM template names HardenRepositoryRole.
    const hardenRole = ofType(template, 'AWS::Lambda::Function').find(
      ([, fn]) => fn.Properties?.FunctionName === 'ptc-ops-harden-repository',
    )![1].Properties?.Role['Fn::GetAtt'][0] as string;
    const cdkPatterns = ofType(template, 'AWS::Events::Rule')
      .filter(([, rule]) => rule.Properties?.EventPattern !== undefined)
      .map(([, rule]) => canonical(rule.Properties?.EventPattern).replaceAll(JSON.stringify(hardenRole), '"HardenRepositoryRole"'));
    assert.ok(
      cdkPatterns.some((pattern) => pattern.includes('"anything-but":[{"Fn::GetAtt":["HardenRepositoryRole","Arn"]}]')),
      'the drift rule leaves out the function\'s own role',
    );
    assert.deepEqual(cdkPatterns.sort(), samPatterns.sort());
    assert.deepEqual(
      [...Object.values(EVENT_PATTERNS), ...Object.values(REGISTRY_EVENT_PATTERNS)].map(({ pattern }) => canonical(pattern)).sort(),
      samPatterns.sort(),
    );
    // Each registry-level rule goes to the function the SAM template names.
    for (const [id, { function: name }] of Object.entries(REGISTRY_EVENT_PATTERNS)) {
      const owner = samFunctions.find(([, fn]) => Object.keys(fn.Properties.Events ?? {}).includes(id));
      assert.ok(owner, `${id} is a SAM event`);
      assert.equal(owner[1].Metadata.BuildProperties.Binary, name, `${id} goes to ${name}`);
    }
  });

  it('runs each function on the same schedules', () => {
    const functionName = (logicalId: string): string =>
      resolve(samFunctions.find(([id]) => id === logicalId)![1].Properties.FunctionName['Fn::Sub'].replace('${AWS::StackName}', 'ptc-ops'));
    const expected: string[] = [];
    for (const [id, fn] of samFunctions) {
      for (const event of Object.values(fn.Properties.Events ?? {}) as any[]) {
        if (event.Type === 'Schedule') {
          expected.push(`${functionName(id)} ${samDefault(event.Properties.Schedule.Ref)}`);
        }
      }
    }
    for (const [, rule] of Object.entries(samResources()).filter(([, r]) => r.Type === 'AWS::Events::Rule')) {
      const target = rule.Properties.Targets[0].Arn['Fn::GetAtt'][0];
      expected.push(`${functionName(target)} ${samDefault(rule.Properties.ScheduleExpression.Ref)}`);
    }
    const functionNames = Object.fromEntries(
      ofType(template, 'AWS::Lambda::Function').map(([id, fn]) => [id, fn.Properties?.FunctionName]),
    );
    const actual = ofType(template, 'AWS::Events::Rule')
      .filter(([, rule]) => rule.Properties?.ScheduleExpression !== undefined)
      .map(([, rule]) => `${functionNames[rule.Properties?.Targets[0].Arn['Fn::GetAtt'][0]]} ${rule.Properties?.ScheduleExpression}`);
    assert.deepEqual(actual.sort(), expected.sort());
  });

  it('creates as many of each resource as the SAM stack', () => {
    const samCount = (type: string): number => Object.values(samResources()).filter((r) => r.Type === type).length;
    for (const type of [
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::Logs::LogGroup',
      'AWS::KMS::Key',
      'AWS::KMS::Alias',
      'AWS::SNS::Topic',
      'AWS::SQS::Queue',
      'AWS::IAM::Role',
      'AWS::DynamoDB::Table',
    ]) {
      assert.equal(ofType(template, type).length, samCount(type), type);
    }
    assert.equal(ofType(template, 'AWS::Lambda::Function').length, samFunctions.length, 'functions');
    assert.equal(ofType(template, 'AWS::Lambda::LayerVersion').length, samCount('AWS::Serverless::LayerVersion'), 'layers');
    const samRules =
      samCount('AWS::Events::Rule') +
      samFunctions.reduce((sum, [, fn]) => sum + Object.values(fn.Properties.Events ?? {}).length, 0);
    assert.equal(ofType(template, 'AWS::Events::Rule').length, samRules, 'rules and schedules');
  });

  it('watches the same metrics with the same alarms', () => {
    const describe = (alarm: any): string =>
      [alarm.Namespace, alarm.MetricName, alarm.Statistic, alarm.Period, alarm.TreatMissingData, alarm.Threshold, alarm.ComparisonOperator].join(' ');
    const samAlarms = Object.values(samResources())
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => describe(r.Properties));
    const cdkAlarms = ofType(template, 'AWS::CloudWatch::Alarm').map(([, r]) => describe(r.Properties));
    assert.deepEqual(cdkAlarms.sort(), samAlarms.sort());
  });

  it('gives each function the memory, timeout and retries of the SAM template', () => {
    const configs = ofType(template, 'AWS::Lambda::EventInvokeConfig');
    for (const [id, fn] of samFunctions) {
      const name = resolve(fn.Properties.FunctionName['Fn::Sub'].replace('${AWS::StackName}', 'ptc-ops'));
      const found = ofType(template, 'AWS::Lambda::Function').find(([, r]) => r.Properties?.FunctionName === name);
      assert.ok(found, `${id}: no function ${name}`);
      const [cdkId, cdk] = found;
      assert.equal(cdk.Properties?.MemorySize, fn.Properties.MemorySize, `${id} memory`);
      assert.equal(cdk.Properties?.Timeout, fn.Properties.Timeout, `${id} timeout`);
      // SAM: `!If [ReservesHardenConcurrency, 1, NoValue]`, 1 by default.
      const samConcurrency = fn.Properties.ReservedConcurrentExecutions?.['Fn::If']?.[1] ?? fn.Properties.ReservedConcurrentExecutions;
      assert.equal(cdk.Properties?.ReservedConcurrentExecutions, samConcurrency, `${id} concurrency`);
      assert.equal(cdk.Properties?.Description, fn.Properties.Description, `${id} description`);
      const config = configs.find(([, c]) => c.Properties?.FunctionName.Ref === cdkId);
      assert.ok(config, `${id} has an event invoke config`);
      assert.equal(config[1].Properties?.MaximumRetryAttempts, fn.Properties.EventInvokeConfig.MaximumRetryAttempts, `${id} retries`);
      assert.equal(config[1].Properties?.MaximumEventAgeInSeconds, fn.Properties.EventInvokeConfig.MaximumEventAgeInSeconds, `${id} event age`);
      const samVariables = Object.keys({ ...sam.Globals.Function.Environment.Variables, ...(fn.Properties.Environment?.Variables ?? {}) });
      assert.deepEqual(Object.keys(cdk.Properties?.Environment.Variables).sort(), samVariables.sort(), `${id} environment`);
    }
  });

  it('grants each role the actions the SAM role grants (everything switched on)', () => {
    const everything = synth({
      credentialWriteBack: true,
      secretKmsKeyArns: ['arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
      templateKmsKeyArns: ['arn:aws:kms:eu-west-1:111111111111:key/5678abcd-12ab-34cd-56ef-1234567890ab'],
      consumerPrincipalArns: ['arn:aws:iam::111111111111:role/eks-node'],
      upstreamRoleArns: ['arn:aws:iam::111111111111:role/ptc-upstream'],
      // An imported key is its ARN, whichever stack imports it.
      alertTopicKey: kms.Key.fromKeyArn(new Stack(), 'AlertTopicKey', 'arn:aws:kms:eu-west-1:222222222222:key/9abcabcd-12ab-34cd-56ef-1234567890ab'),
    });
    const samActions = (role: string): string[] => {
      const documents: any[] = (samResources()[role].Properties.Policies ?? []).map((p: any) => p.PolicyDocument);
      for (const attached of [...Object.values(samLoopOutputs()), ...Object.values(samResources())]) {
        if (attached.Type === 'AWS::IAM::RolePolicy' && attached.Properties.RoleName.Ref === role) {
          documents.push(attached.Properties.PolicyDocument);
        }
      }
      const statements = documents.flatMap((d) => d.Statement).map((s: any) => ('Fn::If' in s ? s['Fn::If'][1] : s));
      return [...new Set(statements.flatMap((s: any) => oneOrMany<string>(s.Action)))].sort();
    };
    const cdkActions = (roleId: string): string[] => {
      const role = ofType(everything, 'AWS::IAM::Role').find(([id]) => id === roleId)![1];
      const documents: any[] = (role.Properties?.Policies ?? []).map((p: any) => p.PolicyDocument);
      for (const [, policy] of ofType(everything, 'AWS::IAM::Policy')) {
        if (policy.Properties?.Roles.some((r: any) => r.Ref === roleId)) {
          documents.push(policy.Properties?.PolicyDocument);
        }
      }
      return [...new Set(documents.flatMap((d) => d.Statement).flatMap((s: any) => oneOrMany<string>(s.Action)))].sort();
    };
    const cdkRoleOf = (functionName: string): string =>
      ofType(everything, 'AWS::Lambda::Function').find(([, fn]) => fn.Properties?.FunctionName === functionName)![1].Properties
        ?.Role['Fn::GetAtt'][0];
    for (const [id, fn] of samFunctions) {
      const samRole = fn.Properties.Role['Fn::GetAtt'][0];
      const name = resolve(fn.Properties.FunctionName['Fn::Sub'].replace('${AWS::StackName}', 'ptc-ops'));
      assert.deepEqual(cdkActions(cdkRoleOf(name)), samActions(samRole), `${id}: ${samRole}`);
    }
    const templateRole = ofType(everything, 'AWS::IAM::Role').find(
      ([, r]) => r.Properties?.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'ecr.amazonaws.com',
    );
    assert.ok(templateRole, 'a role ECR assumes');
    assert.deepEqual(cdkActions(templateRole[0]), samActions('CreationTemplateRole'), 'CreationTemplateRole');
  });
});
