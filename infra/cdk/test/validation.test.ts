// Props are checked at synth: each problem names its prop, and nothing is synthesized.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EcrPtcOpsProps } from '../lib';
import { synth } from './helpers';

function refused(props: EcrPtcOpsProps, ...messages: RegExp[]): void {
  assert.throws(
    () => synth(props),
    (error: Error) => {
      assert.match(error.message, /^EcrPtcOps: invalid props/);
      for (const message of messages) {
        assert.match(error.message, message);
      }
      return true;
    },
  );
}

describe('props validated at synth', () => {
  it('refuses a prefix with characters ECR refuses', () => {
    refused({ managedPrefixes: ['docker-hub', 'Docker_Hub'] }, /managedPrefixes: "Docker_Hub" has characters ECR refuses/);
    refused({ managedPrefixes: ['team//app'] }, /managedPrefixes: "team\/\/app" has characters ECR refuses/);
    refused({ managedPrefixes: ['ghcr '] }, /managedPrefixes: "ghcr " has characters ECR refuses/);
  });

  it('refuses a wildcard, ROOT, a duplicate and a prefix ECR finds too long', () => {
    refused({ managedPrefixes: ['*'] }, /managedPrefixes: "\*" would grant every repository/);
    refused({ managedPrefixes: ['ROOT'] }, /managedPrefixes: "ROOT" would grant every repository/);
    refused({ managedPrefixes: ['ghcr', 'ghcr'] }, /managedPrefixes: "ghcr" is listed twice/);
    refused({ managedPrefixes: ['a'.repeat(31)] }, /managedPrefixes: "a{31}" is 31 characters: ECR takes 2 to 30/);
  });

  it('refuses an empty prefix list', () => {
    refused({ managedPrefixes: [] }, /managedPrefixes: is empty/);
  });

  it('refuses a schedule that is not rate(...) or cron(...)', () => {
    refused({ sweepSchedule: 'daily' }, /sweepSchedule: "daily" is not an EventBridge schedule/);
    refused({ ruleValidationSchedule: 'rate(6 fortnights)' }, /ruleValidationSchedule: "rate\(6 fortnights\)"/);
    refused({ credentialCheckSchedule: 'cron(0 7 * * ?)' }, /credentialCheckSchedule: "cron\(0 7 \* \* \?\)"/);
    refused({ prewarmSchedule: '0 5 * * *' }, /prewarmSchedule: "0 5 \* \* \*"/);
  });

  it('lists every problem at once', () => {
    refused(
      { managedPrefixes: [], sweepSchedule: 'nightly', logRetentionDays: 2, logLevel: 'LOUD' as never, alertEmail: 'nobody' },
      /managedPrefixes: is empty/,
      /sweepSchedule: "nightly"/,
      /logRetentionDays: 2 is not one of 1, 3, 5/,
      /logLevel: "LOUD" is not one of TRACE/,
      /alertEmail: "nobody" is not an e-mail address/,
    );
  });

  it('refuses other props CloudFormation or IAM would refuse', () => {
    refused({ hardeningTagKeys: [] }, /hardeningTagKeys: is empty/);
    refused({ secretKmsKeyArns: ['alias/secrets'] }, /secretKmsKeyArns: "alias\/secrets" is not a KMS key ARN/);
    refused({ consumerPrincipalArns: ['arn:aws:iam::111111111111:role/*'] }, /consumerPrincipalArns: "arn:aws:iam::111111111111:role\/\*" is not an IAM role or user ARN/);
    refused({ upstreamRoleArns: ['arn:aws:iam::111111111111:user/ci'] }, /upstreamRoleArns: "arn:aws:iam::111111111111:user\/ci" is not an IAM role ARN/);
    refused({ prewarmImages: ['nginx:1.27,redis:7'] }, /prewarmImages: "nginx:1.27,redis:7" is not an image reference/);
    refused({ namePrefix: 'a-stack-name-much-too-long-for-lambda-function-names' }, /namePrefix: .* must be 1 to 43/);
    refused({ codeBucket: { bucketName: 'code' }, functionCodeDirectory: '/tmp' }, /codeBucket: and functionCodeDirectory are exclusive/);
  });

  it('accepts the SAM defaults and valid variations', () => {
    synth();
    synth({
      managedPrefixes: ['docker-hub', 'team/app', 'quay.io-mirror'],
      sweepSchedule: 'rate(1 day)',
      prewarmSchedule: 'cron(0/30 * ? * MON-FRI *)',
      logRetentionDays: 365,
      logLevel: 'DEBUG',
    });
  });
});
