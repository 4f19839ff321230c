// The example app `make cdk-synth` synthesizes into cdk.out/:
//   - ptc-ops: one account and region, code as CDK assets (`cdk deploy` with a bootstrapped
//     account), from PTC_CDK_LAMBDA_DIR (<function>/bootstrap.zip, as `make package` writes them);
//   - ptc-ops-stackset: the template for service-managed StackSets. No transform, no CDK
//     bootstrap: the code comes from an S3 bucket in each region (parameters CodeBucket and
//     CodeKeyPrefix), named `<prefix><function>.zip` and `<prefix>config-layer.zip`.
// Both take the SAM template's defaults; your own app sets the props it needs.
import { App, BootstraplessSynthesizer, CfnParameter, Stack } from 'aws-cdk-lib';

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
});

const stackSet = new Stack(app, 'ptc-ops-stackset', {
  stackName: 'ptc-ops-stackset',
  description: 'ecr-ptc-ops: keeps an Amazon ECR pull-through cache healthy (StackSets template)',
  synthesizer: new BootstraplessSynthesizer(),
});
const codeBucket = new CfnParameter(stackSet, 'CodeBucket', {
  type: 'String',
  description: 'S3 bucket in this region holding <CodeKeyPrefix><function>.zip for the four functions and <CodeKeyPrefix>config-layer.zip',
});
const codeKeyPrefix = new CfnParameter(stackSet, 'CodeKeyPrefix', {
  type: 'String',
  default: 'ecr-ptc-ops/',
  description: 'Key prefix of the zips in CodeBucket',
});
new EcrPtcOps(stackSet, 'EcrPtcOps', {
  // StackSets name their stacks StackSet-<name>-<id>: too long for `<stack>-<function>`.
  namePrefix: 'ptc-ops',
  codeBucket: { bucketName: codeBucket.valueAsString, keyPrefix: codeKeyPrefix.valueAsString },
});

app.synth();
