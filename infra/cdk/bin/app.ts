// The example app `make cdk-synth` synthesizes into cdk.out/:
//   - ptc-ops: one account and region, code as CDK assets (`cdk deploy` with a bootstrapped
//     account), from PTC_CDK_LAMBDA_DIR (<function>/bootstrap.zip, as `make package` writes them);
//   - ptc-ops-stackset: the template for service-managed StackSets. No transform, no CDK
//     bootstrap: the code comes from an S3 bucket in each region, `<CodeBucketPrefix><region>`
//     (Lambda reads code from its own region only), under `<CodeKeyPrefix><function>.zip` and
//     `<CodeKeyPrefix>config-layer.zip`.
// Both take the SAM template's defaults; your own app sets the props it needs.
import { App, Aws, BootstraplessSynthesizer, CfnParameter, Fn, Stack } from 'aws-cdk-lib';

import { EcrPtcOps } from '../lib';

const app = new App({
  outdir: process.env.PTC_CDK_OUT ?? 'cdk.out',
  analyticsReporting: false,
});

const single = new Stack(app, 'ptc-ops', {
  stackName: 'ptc-ops',
  description: 'ecr-ptc-ops: keeps an Amazon ECR pull-through cache healthy (CDK, one account)',
});
new EcrPtcOps(single, 'EcrPtcOps', {
  functionCodeDirectory: process.env.PTC_CDK_LAMBDA_DIR,
  outputs: true,
});

const stackSet = new Stack(app, 'ptc-ops-stackset', {
  stackName: 'ptc-ops-stackset',
  description: 'ecr-ptc-ops: keeps an Amazon ECR pull-through cache healthy (StackSets template)',
  synthesizer: new BootstraplessSynthesizer(),
});
const codeBucketPrefix = new CfnParameter(stackSet, 'CodeBucketPrefix', {
  type: 'String',
  // The bucket name is this plus the region, at most 63 characters; the longest region name is 14.
  allowedPattern: '[a-z0-9][a-z0-9.-]{1,47}',
  description:
    'The code buckets are <CodeBucketPrefix><region> (ptc-ops-code- makes ptc-ops-code-eu-west-1), one per region, each holding <CodeKeyPrefix><function>.zip for the four functions and <CodeKeyPrefix>config-layer.zip',
});
const codeKeyPrefix = new CfnParameter(stackSet, 'CodeKeyPrefix', {
  type: 'String',
  default: 'ecr-ptc-ops/',
  description: 'Key prefix of the zips in CodeBucket',
});
new EcrPtcOps(stackSet, 'EcrPtcOps', {
  // StackSets name their stacks StackSet-<name>-<id>: too long for `<stack>-<function>`.
  namePrefix: 'ptc-ops',
  codeBucket: { bucketName: Fn.join('', [codeBucketPrefix.valueAsString, Aws.REGION]), keyPrefix: codeKeyPrefix.valueAsString },
  // One execution reserved would fail in a new account (concurrency quota 10); docs/deployment.md says
  // what harden-repository relies on instead.
  hardenReservedConcurrency: 0,
  outputs: true,
});

app.synth();
