// The stack EcrPtcOps makes: its resources, encryption, no wildcard action, and a StackSets
// flavour with no transform and nothing from the CDK bootstrap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { App, BootstraplessSynthesizer, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';

import { EcrPtcOps, FUNCTION_NAMES } from '../lib';
import { ofType, oneOrMany, resources, synth } from './helpers';

describe('EcrPtcOps', () => {
  const template = synth();

  it('creates the resources of the SAM stack', () => {
    const counts: Record<string, number> = {
      'AWS::Lambda::Function': 4,
      'AWS::Lambda::EventInvokeConfig': 4,
      'AWS::Lambda::LayerVersion': 1,
      'AWS::IAM::Role': 5,
      'AWS::Events::Rule': 10,
      'AWS::Lambda::Permission': 10,
      'AWS::CloudWatch::Alarm': 11,
      'AWS::CloudWatch::Dashboard': 1,
      'AWS::Logs::LogGroup': 4,
      'AWS::KMS::Key': 1,
      'AWS::KMS::Alias': 1,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::Subscription': 0,
      'AWS::SQS::Queue': 1,
      'AWS::DynamoDB::Table': 1,
    };
    for (const [type, count] of Object.entries(counts)) {
      template.resourceCountIs(type, count);
    }
    synth({ alertEmail: 'platform@example.com' }).resourceCountIs('AWS::SNS::Subscription', 1);
  });

  it('runs four arm64 functions on the OS-only runtime, named after the stack, each with its log group', () => {
    for (const name of FUNCTION_NAMES) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `ptc-ops-${name}`,
        Runtime: 'provided.al2023',
        Architectures: ['arm64'],
        Handler: 'bootstrap',
        Layers: [Match.anyValue()],
        Environment: { Variables: Match.objectLike({ PTC_CONFIG: '/opt/ptc-ops/ptc-ops.toml' }) },
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'WARN' }),
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/ptc-ops-${name}`, RetentionInDays: 30 });
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'ptc-ops-harden-repository',
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
    });
  });

  it('keeps state in an on-demand table keyed by `pk` with TTL on `expires_at`, named to every function', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
    const [[tableId]] = Object.entries(template.findResources('AWS::DynamoDB::Table'));
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      assert.deepEqual(fn.Properties.Environment.Variables.PTC_STATE_TABLE, { Ref: tableId }, id);
    }
  });

  it('sends events that failed every retry to the dead-letter queue', () => {
    const [[queue]] = ofType(template, 'AWS::SQS::Queue');
    for (const [, config] of ofType(template, 'AWS::Lambda::EventInvokeConfig')) {
      assert.equal(config.Properties?.MaximumRetryAttempts, 2);
      assert.deepEqual(config.Properties?.DestinationConfig, {
        OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } },
      });
    }
  });

  it('encrypts the topic with a rotated key of its own and the queue with SQS-managed keys', () => {
    const [[key, keyResource]] = ofType(template, 'AWS::KMS::Key');
    assert.equal(keyResource.Properties?.EnableKeyRotation, true);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { Ref: key } });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    const principals = keyResource.Properties?.KeyPolicy.Statement.map((statement: any) => statement.Principal);
    assert.ok(principals.some((principal: any) => principal.Service === 'cloudwatch.amazonaws.com'), 'alarms may use the key');
  });

  it('grants no wildcard action, in any policy or key policy', () => {
    const documents: [string, any][] = [];
    for (const [id, resource] of Object.entries(resources(template))) {
      for (const policy of resource.Properties?.Policies ?? []) {
        documents.push([id, policy.PolicyDocument]);
      }
      if (resource.Type === 'AWS::IAM::Policy') {
        documents.push([id, resource.Properties?.PolicyDocument]);
      }
      if (resource.Type === 'AWS::KMS::Key') {
        documents.push([id, resource.Properties?.KeyPolicy]);
      }
    }
    assert.equal(documents.length, 6, "five roles' policies and the key policy");
    for (const [id, document] of documents) {
      for (const statement of document.Statement) {
        // The one Deny takes back, outside this registry, what the wide repository ARNs grant;
        // the key's refuses grants to anything but AWS services.
        const keepsToRegistry = statement.Effect === 'Deny' && statement.NotResource !== undefined;
        const refusesGrants = statement.Effect === 'Deny' && statement.Action === 'kms:CreateGrant';
        assert.ok(statement.Effect === 'Allow' || keepsToRegistry || refusesGrants, `${id}: ${JSON.stringify(statement)}`);
        assert.equal(statement.NotAction, undefined, id);
        for (const action of oneOrMany<string>(statement.Action)) {
          assert.ok(!action.includes('*'), `${id}: wildcard action ${action}`);
        }
      }
    }
  });

  it('notifies the topic from every alarm, on ALARM and on OK', () => {
    const [[topic]] = ofType(template, 'AWS::SNS::Topic');
    for (const [id, alarm] of ofType(template, 'AWS::CloudWatch::Alarm')) {
      assert.deepEqual(alarm.Properties?.AlarmActions, [{ Ref: topic }], id);
      assert.deepEqual(alarm.Properties?.OKActions, [{ Ref: topic }], id);
    }
  });

  it('puts the pre-warm images into the scheduled event it rebuilds', () => {
    const withImages = synth({ prewarmImages: ['nginx:1.27', 'registry.k8s.io/pause:3.10'] });
    const rule = ofType(withImages, 'AWS::Events::Rule').find(([, r]) => r.Properties?.Targets[0].InputTransformer !== undefined);
    assert.ok(rule, 'the pre-warm schedule has an input transformer');
    const inputTemplate: string = rule[1].Properties?.Targets[0].InputTransformer.InputTemplate;
    const filled = inputTemplate.replace(/<(id|account|time|region)>/g, 'x').replace('<resources>', '["arn"]');
    assert.deepEqual(JSON.parse(filled).detail, { images: ['nginx:1.27', 'registry.k8s.io/pause:3.10'] });
    const none = ofType(template, 'AWS::Events::Rule').find(([, r]) => r.Properties?.Targets[0].InputTransformer !== undefined);
    assert.ok(none);
    assert.match(none[1].Properties?.Targets[0].InputTransformer.InputTemplate, /"detail":\{\}\}$/);
  });

  it('synthesizes the same template every time (assets are hashed by content)', () => {
    assert.deepEqual(synth().toJSON(), template.toJSON());
  });

  it('synthesizes for StackSets: no transform, no asset, nothing from the CDK bootstrap', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new Stack(app, 'stackset', { synthesizer: new BootstraplessSynthesizer() });
    new EcrPtcOps(stack, 'EcrPtcOps', { namePrefix: 'ptc-ops', codeBucket: { bucketName: 'code-bucket', keyPrefix: 'ecr-ptc-ops/' } });
    const json = Template.fromStack(stack).toJSON();
    assert.equal(json.Transform, undefined);
    assert.equal(json.Rules, undefined, 'no bootstrap version check');
    const text = JSON.stringify(json);
    assert.ok(!text.includes('cdk-hnb659fds'), 'no bootstrap bucket');
    assert.ok(!text.includes('aws:asset'), 'no asset');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'ptc-ops-harden-repository',
      Code: { S3Bucket: 'code-bucket', S3Key: 'ecr-ptc-ops/harden-repository.zip' },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', {
      Content: { S3Bucket: 'code-bucket', S3Key: 'ecr-ptc-ops/config-layer.zip' },
    });
  });
});
