// EcrPtcOps: the stack of infra/template.yaml as one CDK construct. The same four arm64
// functions, rules and schedules (the same event patterns), encrypted alert topic and its key,
// dead-letter queue, alarms, dashboard, configuration layer and roles; the roles grant exactly
// what permissions.json (`ptc permissions --json`) lists. The synthesized template has no
// transform, so service-managed StackSets take it.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';

import { Deployment, RoleEntry, roleEntry, statements } from './permissions';
import {
  LOG_LEVELS,
  LOG_RETENTION_DAYS,
  Problems,
  checkEmail,
  checkImages,
  checkKmsKeyArns,
  checkPrincipalArns,
  checkNamePrefix,
  checkNonEmptyList,
  checkOneOf,
  checkPrefixes,
  checkSchedule,
  checkTagKey,
} from './validation';

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the functions' code and the configuration layer come from in S3 (StackSets). */
export interface EcrPtcOpsCodeBucket {
  /** A bucket in the stack's region the deploying account can read. */
  readonly bucketName: string;
  /** Prepended to `<function>.zip` and `config-layer.zip`; default none. */
  readonly keyPrefix?: string;
}

/** The props mirror the SAM template's parameters, with the same defaults. */
export interface EcrPtcOpsProps {
  /** ManagedPrefixes: rule prefixes whose repositories the functions may change and pull. */
  readonly managedPrefixes?: string[];
  /** HardeningTagKeys: every tag key the hardening profiles set. */
  readonly hardeningTagKeys?: string[];
  /** CredentialWriteBack: `credentials.write_back` (check-credentials may tag its secrets). */
  readonly credentialWriteBack?: boolean;
  /** CredentialExpiryTag: `credentials.expiry_tag`, the only tag key the write-back sets. */
  readonly credentialExpiryTag?: string;
  /** SecretKmsKeyArns: customer managed keys of the `ecr-pullthroughcache/` secrets. */
  readonly secretKmsKeyArns?: string[];
  /** TemplateKmsKeyArns: customer managed keys the profiles name (`kms_key`); ECR's template role may use them through ECR only. */
  readonly templateKmsKeyArns?: string[];
  /** ConsumerPrincipalArns: roles and users of `consumers.principals` whose IAM policies validate-cache-rules may simulate. */
  readonly consumerPrincipalArns?: string[];
  /** UpstreamRoleArns: custom roles of the ECR-to-ECR rules, which validate-cache-rules may read and simulate. */
  readonly upstreamRoleArns?: string[];
  /** AlertEmail: an e-mail address subscribed to the alert topic; empty for none. */
  readonly alertEmail?: string;
  /** SweepSchedule: when harden-repository sweeps (EventBridge expression, UTC). */
  readonly sweepSchedule?: string;
  /** UsageSummarySchedule: when harden-repository posts the usage summary of the cache. */
  readonly usageSummarySchedule?: string;
  /** RuleValidationSchedule: when validate-cache-rules runs. */
  readonly ruleValidationSchedule?: string;
  /** CredentialCheckSchedule: when check-credentials runs. */
  readonly credentialCheckSchedule?: string;
  /** PrewarmSchedule: when prewarm-images runs. */
  readonly prewarmSchedule?: string;
  /** PrewarmImages: images the schedule pulls; empty means `prewarm.images`. */
  readonly prewarmImages?: string[];
  /** LogLevel: application log level of every function. */
  readonly logLevel?: LogLevel;
  /** LogRetentionDays: days CloudWatch Logs keeps each function's logs. */
  readonly logRetentionDays?: number;
  /** The configuration folder shipped as the layer (infra/config); its Makefile is left out. */
  readonly configDirectory?: string;
  /**
   * A folder with `<function>/bootstrap.zip` for each function (target/lambda after
   * `make package`), or `<function>/bootstrap` (unzipped). Default: the repository's
   * target/lambda. Ignored when `codeBucket` is set.
   */
  readonly functionCodeDirectory?: string;
  /** Take the code and the configuration layer from S3 instead of CDK assets (StackSets). */
  readonly codeBucket?: EcrPtcOpsCodeBucket;
  /** Functions are `<namePrefix>-<function>`, as SAM names them after the stack; default the stack name. */
  readonly namePrefix?: string;
  /**
   * ExistingAlertTopicArn: publish findings and alarm state changes to this topic (an
   * organisation's central one, in the stack's region) instead of creating a topic and its key.
   */
  readonly alertTopic?: sns.ITopic;
  /**
   * ExistingAlertTopicKmsKeyArn: the customer managed key of the topic. With `alertTopic`, the
   * key of that (central) topic, which the functions may then use through SNS; without it, the
   * key the construct's own topic is encrypted with instead of a key of its own (its policy must
   * let CloudWatch alarms use it).
   */
  readonly alertTopicKey?: kms.IKey;
  /** PermissionsBoundaryArn: the permissions boundary of every role the construct creates. */
  readonly permissionsBoundary?: iam.IManagedPolicy;
  /** LogKmsKeyArn: encrypts the four log groups (its policy must let `logs.<region>.amazonaws.com` use it). */
  readonly logKey?: kms.IKey;
  /** HardenReservedConcurrency: 1 (default) reserves one execution for harden-repository; 0 leaves it unreserved. */
  readonly hardenReservedConcurrency?: 0 | 1;
  /** Code of individual functions (a `lambda.Code` of your own build), instead of `functionCodeDirectory` or `codeBucket`. */
  readonly code?: Partial<Record<FunctionName, lambda.Code>>;
  /**
   * Makes each function from the props the construct decided (role, environment, layer, logs,
   * memory, timeout, retries): return a `lambda.Function` of your own, such as cargo-lambda-cdk's
   * `RustFunction` building the workspace's binary, to replace its `code`. Default:
   * `new lambda.Function(scope, id, props)`.
   */
  readonly functionFactory?: (scope: Construct, id: string, props: lambda.FunctionProps, name: FunctionName) => lambda.Function;
  /**
   * Function code that is an empty placeholder (`make cdk-synth` without `make package`) is an
   * error annotation, so `cdk deploy` refuses the stack; true lets it through (tests).
   */
  readonly allowPlaceholderCode?: boolean;
  /** The SAM template's outputs (AlertTopicArn, …) under the same names; off, so two instances fit one stack. */
  readonly outputs?: boolean;
}

/** The SAM template's parameter defaults (a test compares them with infra/template.yaml). */
export const DEFAULTS = {
  managedPrefixes: ['docker-hub', 'ghcr', 'k8s'],
  hardeningTagKeys: ['managed-by', 'cost-center'],
  credentialWriteBack: false,
  credentialExpiryTag: 'ptc-ops:expires-at',
  secretKmsKeyArns: [] as string[],
  templateKmsKeyArns: [] as string[],
  consumerPrincipalArns: [] as string[],
  upstreamRoleArns: [] as string[],
  alertEmail: '',
  sweepSchedule: 'cron(15 3 * * ? *)',
  usageSummarySchedule: 'cron(0 8 ? * MON *)',
  ruleValidationSchedule: 'rate(6 hours)',
  credentialCheckSchedule: 'cron(0 7 * * ? *)',
  prewarmSchedule: 'cron(30 5 ? * MON-FRI *)',
  prewarmImages: [] as string[],
  logLevel: 'INFO' as LogLevel,
  logRetentionDays: 30,
  hardenReservedConcurrency: 1 as 0 | 1,
};

/** The repository this package lives in (dist/lib → infra/cdk → repository). */
const REPOSITORY = path.resolve(__dirname, '..', '..', '..', '..');

export const FUNCTION_NAMES = ['harden-repository', 'validate-cache-rules', 'check-credentials', 'prewarm-images'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/**
 * The managed repositories of any partition, region and account: `<this><prefix>/*`. Every role
 * that is granted on them also gets the `ThisRegistryOnly` Deny.
 */
const WIDE_REPOSITORY = 'arn:*:ecr:*:*:repository/';

/** Where Lambda extracts the layer's `ptc-ops/` folder (infra/config/Makefile). */
const CONFIG_PATH = '/opt/ptc-ops/ptc-ops.toml';
const NAMESPACE = 'EcrPtcOps';

interface FunctionSpec {
  readonly id: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: number;
  readonly maxEventAge: number;
}

const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  // 256 MB: Lambda allots CPU by memory, and a sweep runs `hardening.concurrency` repositories
  // at once over TLS; 900 s so a large sweep needs few hand-offs; one at a time so two sweeps
  // never race on a repository; six hours of event age to wait for that slot.
  'harden-repository': {
    id: 'HardenRepository',
    description: 'Brings each cached repository to its profile; sweeps on a schedule',
    memorySize: 256,
    timeout: 900,
    maxEventAge: 21600,
  },
  'validate-cache-rules': {
    id: 'ValidateCacheRules',
    description: 'Validates every pull-through cache rule and cross-checks its secret',
    memorySize: 128,
    timeout: 120,
    maxEventAge: 3600,
  },
  'check-credentials': {
    id: 'CheckCredentials',
    description: 'Checks format, expiry, age and use of the ecr-pullthroughcache/ secrets',
    memorySize: 128,
    timeout: 120,
    maxEventAge: 3600,
  },
  'prewarm-images': {
    id: 'PrewarmImages',
    description: 'Pulls a list of upstream images through the cache before anyone needs them',
    memorySize: 256,
    timeout: 300,
    maxEventAge: 3600,
  },
};

/** harden-repository's own role in the patterns, as the SAM template refers to it. */
export const OWN_ROLE_ARN = { 'Fn::GetAtt': ['HardenRepositoryRole', 'Arn'] } as const;

/** `value` with every {@link OWN_ROLE_ARN} replaced by `roleArn`. */
function withOwnRole(value: unknown, roleArn: string): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => withOwnRole(item, roleArn));
  }
  if (value !== null && typeof value === 'object') {
    if (JSON.stringify(value) === JSON.stringify(OWN_ROLE_ARN)) {
      return roleArn;
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withOwnRole(item, roleArn)]));
  }
  return value;
}

/** The SAM template's EventBridge patterns for harden-repository (a test compares them). */
export const EVENT_PATTERNS: Record<string, { description: string; pattern: Record<string, unknown> }> = {
  RepositoryCreated: {
    description: 'harden-repository hardens a repository as it is created',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['AWS Service Event via CloudTrail', 'AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecr.amazonaws.com'],
        eventName: ['CreateRepository'],
        errorCode: [{ exists: false }],
      },
    },
  },
  SettingChanged: {
    description: 'harden-repository restores a managed setting someone changed',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecr.amazonaws.com'],
        eventName: [
          'PutLifecyclePolicy',
          'DeleteLifecyclePolicy',
          'SetRepositoryPolicy',
          'DeleteRepositoryPolicy',
          'PutImageTagMutability',
          'PutImageScanningConfiguration',
          'TagResource',
          'UntagResource',
        ],
        errorCode: [{ exists: false }],
        // The function's own writes never come back: they would queue for the one concurrency
        // slot ahead of creation events (the code still acknowledges them, as a second line).
        // A caller with no session issuer (an IAM user, the root user) has no such field, and
        // `anything-but` matches only a field that exists, hence the second branch. The role is
        // written as the SAM template writes it; the construct puts in its own role's ARN.
        $or: [
          { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': [OWN_ROLE_ARN] }] } } } },
          { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ exists: false }] } } } },
        ],
      },
    },
  },
  PullThroughCacheAction: {
    description: 'harden-repository reports pull-through cache syncs that did not succeed',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['ECR Pull Through Cache Action'],
      detail: { 'sync-status': [{ 'anything-but': ['SUCCESS'] }] },
    },
  },
  ImageScan: {
    description: 'harden-repository alerts on vulnerable images of the cache (ECR Image Scan)',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Scan'],
      detail: { 'scan-status': ['COMPLETE'] },
    },
  },
};

/**
 * The SAM template's EventBridge patterns of registry-level changes, by the function each goes
 * to (a test compares them): rules and the registry policy, credential secrets, creation
 * templates and registry scanning. CloudTrail API calls only, failed calls left out; the
 * template and scanning rule leaves out harden-repository's own writes, and no role of the stack
 * may make the calls of the other two.
 */
export const REGISTRY_EVENT_PATTERNS: Record<string, { function: FunctionName; description: string; pattern: Record<string, unknown> }> = {
  RuleChanged: {
    function: 'validate-cache-rules',
    description: 'validate-cache-rules checks a rule or registry policy change at once',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecr.amazonaws.com'],
        eventName: [
          'CreatePullThroughCacheRule',
          'UpdatePullThroughCacheRule',
          'DeletePullThroughCacheRule',
          'PutRegistryPolicy',
          'DeleteRegistryPolicy',
        ],
        errorCode: [{ exists: false }],
      },
    },
  },
  SecretChanged: {
    function: 'check-credentials',
    description: 'check-credentials verifies a credential given a new value at once',
    pattern: {
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: ['PutSecretValue', 'UpdateSecret', 'RotateSecret'],
        errorCode: [{ exists: false }],
        // A name or an ARN, as the caller wrote it; the code checks again.
        requestParameters: {
          secretId: [{ prefix: 'ecr-pullthroughcache/' }, { wildcard: 'arn:*:secretsmanager:*:*:secret:ecr-pullthroughcache/*' }],
        },
      },
    },
  },
  RegistryControlChanged: {
    function: 'harden-repository',
    description: 'harden-repository reconciles a changed creation template or registry scanning configuration',
    pattern: {
      source: ['aws.ecr'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ecr.amazonaws.com'],
        eventName: [
          'CreateRepositoryCreationTemplate',
          'UpdateRepositoryCreationTemplate',
          'DeleteRepositoryCreationTemplate',
          'PutRegistryScanningConfiguration',
        ],
        errorCode: [{ exists: false }],
        $or: [
          { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': [OWN_ROLE_ARN] }] } } } },
          { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ exists: false }] } } } },
        ],
      },
    },
  },
};

/** Copies the configuration folder (without its Makefile) under `ptc-ops/`, as the layer needs it. */
function stageConfigLayer(configDirectory: string): string {
  const source = path.resolve(configDirectory);
  if (!fs.existsSync(path.join(source, 'ptc-ops.toml'))) {
    throw new Error(`EcrPtcOps: invalid props\n  configDirectory: ${source} has no ptc-ops.toml`);
  }
  const digest = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const staged = path.join(os.tmpdir(), `ecr-ptc-ops-config-layer-${digest}`);
  fs.rmSync(staged, { recursive: true, force: true });
  fs.cpSync(source, path.join(staged, 'ptc-ops'), {
    recursive: true,
    filter: (file) => path.relative(source, file) !== 'Makefile',
  });
  return staged;
}

/** The stand-in code a `functionFactory` receives when no code is given: its function must bring its own. */
const FACTORY_SUPPLIES_CODE = 'ecr-ptc-ops: the function factory supplies the code';

/** The id of the error annotation on placeholder code (scripts/cdk-synth.sh tolerates it alone). */
export const PLACEHOLDER_CODE = 'ecr-ptc-ops:placeholder-code';

/**
 * The function's code: `<dir>/<function>/bootstrap.zip`, else the folder `<dir>/<function>/`;
 * `placeholder` says whether it is an empty file, which Lambda would run and fail on.
 */
function functionAsset(directory: string, name: FunctionName): { code: lambda.Code; placeholder: boolean } {
  const zip = path.join(directory, name, 'bootstrap.zip');
  if (fs.existsSync(zip)) {
    return { code: lambda.Code.fromAsset(zip), placeholder: fs.statSync(zip).size === 0 };
  }
  const bootstrap = path.join(directory, name, 'bootstrap');
  if (fs.existsSync(bootstrap)) {
    return { code: lambda.Code.fromAsset(path.join(directory, name)), placeholder: fs.statSync(bootstrap).size === 0 };
  }
  throw new Error(
    `EcrPtcOps: invalid props\n  functionCodeDirectory: ${directory} has neither ${name}/bootstrap.zip nor ${name}/bootstrap (run \`make package\`)`,
  );
}

export class EcrPtcOps extends Construct {
  /** Where findings and alarm state changes go: the topic created here, or `alertTopic`. */
  public readonly topic: sns.ITopic;
  /** The topic's ARN (as `topic.topicArn`). */
  public readonly alertTopicArn: string;
  /** Every alarm, by the SAM template's logical ID (`RulesInvalidAlarm`, …). */
  public readonly alarms: Record<string, cloudwatch.IAlarm>;
  public readonly dashboard: cloudwatch.CfnDashboard;
  /** Functions, log groups and the key alias are `<namePrefix>-…`. */
  public readonly namePrefix: string;
  public readonly failureQueue: sqs.Queue;
  public readonly functions: Record<FunctionName, lambda.Function>;
  public readonly roles: Record<FunctionName | 'creation-template', iam.Role>;
  /** What the functions remember between invocations (`PTC_STATE_TABLE`). */
  public readonly stateTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: EcrPtcOpsProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const settings = { ...DEFAULTS, ...withoutUndefined(props) };
    const namePrefix = props.namePrefix ?? stack.stackName;
    this.namePrefix = namePrefix;

    const problems = new Problems();
    checkPrefixes(problems, 'managedPrefixes', settings.managedPrefixes);
    checkNonEmptyList(problems, 'hardeningTagKeys', settings.hardeningTagKeys, 'tag key');
    settings.hardeningTagKeys.forEach((key) => checkTagKey(problems, 'hardeningTagKeys', key));
    checkTagKey(problems, 'credentialExpiryTag', settings.credentialExpiryTag);
    checkKmsKeyArns(problems, 'secretKmsKeyArns', settings.secretKmsKeyArns);
    checkKmsKeyArns(problems, 'templateKmsKeyArns', settings.templateKmsKeyArns);
    checkPrincipalArns(problems, 'consumerPrincipalArns', settings.consumerPrincipalArns, ['role', 'user']);
    checkPrincipalArns(problems, 'upstreamRoleArns', settings.upstreamRoleArns, ['role']);
    checkEmail(problems, 'alertEmail', settings.alertEmail);
    checkSchedule(problems, 'sweepSchedule', settings.sweepSchedule);
    checkSchedule(problems, 'usageSummarySchedule', settings.usageSummarySchedule);
    checkSchedule(problems, 'ruleValidationSchedule', settings.ruleValidationSchedule);
    checkSchedule(problems, 'credentialCheckSchedule', settings.credentialCheckSchedule);
    checkSchedule(problems, 'prewarmSchedule', settings.prewarmSchedule);
    checkImages(problems, 'prewarmImages', settings.prewarmImages);
    checkOneOf(problems, 'logLevel', settings.logLevel, LOG_LEVELS);
    checkOneOf(problems, 'logRetentionDays', settings.logRetentionDays, LOG_RETENTION_DAYS as readonly number[]);
    checkNamePrefix(problems, 'namePrefix', namePrefix);
    if (props.codeBucket !== undefined && props.functionCodeDirectory !== undefined) {
      problems.add('codeBucket', 'and functionCodeDirectory are exclusive: give one');
    }
    checkOneOf(problems, 'hardenReservedConcurrency', settings.hardenReservedConcurrency, [0, 1]);
    if (props.alertTopic !== undefined && settings.alertEmail !== '') {
      problems.add('alertTopic', 'is an existing topic, whose owner manages its subscriptions: leave alertEmail unset');
    }
    // Two instances in one stack must not name their functions alike.
    const twin = stack.node
      .findAll()
      .find((other: IConstruct) => other !== this && other instanceof EcrPtcOps && other.namePrefix === namePrefix);
    if (twin !== undefined) {
      problems.add('namePrefix', `"${namePrefix}" is already the name prefix of ${twin.node.path}: give each instance its own`);
    }
    problems.throwIfAny('EcrPtcOps');

    const functionName = (name: FunctionName): string => `${namePrefix}-${name}`;
    const arn = (service: string, resource: string): string =>
      `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;

    // ---- configuration layer ------------------------------------------------------------------
    const bucket = props.codeBucket && s3.Bucket.fromBucketName(this, 'CodeBucket', props.codeBucket.bucketName);
    if (bucket) {
      // CloudFormation updates the code when its key changes: a new version goes under a new
      // key prefix (docs/organisation.md), so no object version is needed.
      Annotations.of(this).acknowledgeWarning(
        '@aws-cdk/aws-lambda:codeFromBucketObjectVersionNotSpecified',
        'each code version is uploaded under a key prefix of its own',
      );
    }
    const key = (file: string): string => `${props.codeBucket?.keyPrefix ?? ''}${file}`;
    const configLayer = new lambda.LayerVersion(this, 'ConfigLayer', {
      description: 'ptc-ops.toml and the lifecycle and repository policies it names',
      code: bucket
        ? lambda.Code.fromBucket(bucket, key('config-layer.zip'))
        : lambda.Code.fromAsset(stageConfigLayer(props.configDirectory ?? path.join(REPOSITORY, 'infra', 'config'))),
      compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // ---- alerts: a customer managed key, so CloudWatch alarms can publish to the topic ------
    // Or an existing topic (an organisation's central one): then neither topic nor key here.
    let topic: sns.ITopic;
    if (props.alertTopic !== undefined) {
      topic = props.alertTopic;
    } else {
      let topicKey: string;
      if (props.alertTopicKey !== undefined) {
        topicKey = props.alertTopicKey.keyArn;
      } else {
        const alertKey = new kms.CfnKey(this, 'AlertKey', {
          description: 'Encrypts the ecr-ptc-ops alert topic',
          enableKeyRotation: true,
          keyPolicy: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'KeyAdministration',
                Effect: 'Allow',
                Principal: { AWS: `arn:${stack.partition}:iam::${stack.account}:root` },
                Action: [
                  'kms:CancelKeyDeletion',
                  'kms:CreateAlias',
                  'kms:DeleteAlias',
                  'kms:DescribeKey',
                  'kms:DisableKey',
                  'kms:DisableKeyRotation',
                  'kms:EnableKey',
                  'kms:EnableKeyRotation',
                  'kms:GetKeyPolicy',
                  'kms:GetKeyRotationStatus',
                  'kms:ListResourceTags',
                  'kms:PutKeyPolicy',
                  'kms:ScheduleKeyDeletion',
                  'kms:TagResource',
                  'kms:UntagResource',
                  'kms:UpdateAlias',
                  'kms:UpdateKeyDescription',
                ],
                Resource: '*',
              },
              {
                Sid: 'PublishThroughSns',
                Effect: 'Allow',
                Principal: { AWS: '*' },
                Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
                Resource: '*',
                Condition: {
                  StringEquals: {
                    'kms:CallerAccount': stack.account,
                    'kms:ViaService': `sns.${stack.region}.amazonaws.com`,
                  },
                },
              },
              {
                Sid: 'CloudWatchAlarms',
                Effect: 'Allow',
                Principal: { Service: 'cloudwatch.amazonaws.com' },
                Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
                Resource: '*',
                Condition: { StringEquals: { 'aws:SourceAccount': stack.account } },
              },
              // Grants only for AWS services acting on AWS resources (Control Tower CT.KMS.PR.3).
              {
                Sid: 'GrantsForAwsServicesOnly',
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 'kms:CreateGrant',
                Resource: '*',
                Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
              },
            ],
          },
        });
        alertKey.applyRemovalPolicy(RemovalPolicy.DESTROY, { default: RemovalPolicy.DESTROY });
        new kms.CfnAlias(this, 'AlertKeyAlias', {
          aliasName: `alias/${namePrefix}-alerts`,
          targetKeyId: alertKey.ref,
        });
        topicKey = alertKey.ref;
      }
      const alertTopic = new sns.CfnTopic(this, 'AlertTopic', {
        displayName: 'ecr-ptc-ops alerts',
        kmsMasterKeyId: topicKey,
      });
      topic = sns.Topic.fromTopicArn(this, 'Topic', alertTopic.ref);
      if (settings.alertEmail !== '') {
        new sns.CfnSubscription(this, 'AlertEmailSubscription', {
          topicArn: alertTopic.ref,
          protocol: 'email',
          endpoint: settings.alertEmail,
        });
      }
    }
    this.topic = topic;
    this.alertTopicArn = topic.topicArn;

    // ---- dead letters: SQS-managed encryption, so Lambda needs no KMS permission to send -----
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // ---- state: what the functions remember between invocations -------------------------------
    // Which alerts went out, so a storm reaches chat once per alerts.repeat_after_minutes. On
    // demand, one string key, TTL on expires_at (lazy: the code compares it itself). Nothing in
    // it outlives its window, so it goes with the stack.
    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expires_at',
      // Control Tower's CT.DYNAMODB.PR.1 and PR.2, as the SAM template.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // ---- log groups: created here so they have a retention and the roles need no CreateLogGroup
    const logGroups = {} as Record<FunctionName, logs.LogGroup>;
    for (const name of FUNCTION_NAMES) {
      logGroups[name] = new logs.LogGroup(this, `${FUNCTIONS[name].id}LogGroup`, {
        logGroupName: `/aws/lambda/${functionName(name)}`,
        retention: settings.logRetentionDays as logs.RetentionDays,
        encryptionKey: props.logKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    }

    // ---- roles: exactly permissions.json ------------------------------------------------------
    const templateEntry = roleEntry('creation-template');
    const templateRole = new iam.Role(this, 'CreationTemplateRole', {
      description: 'Assumed by Amazon ECR to create cache repositories from creation templates',
      assumedBy: new iam.ServicePrincipal(templateEntry['trusted-by']),
      permissionsBoundary: props.permissionsBoundary,
    });
    const deployment = (name: FunctionName | null): Deployment => ({
      resources: (scope) => {
        switch (scope) {
          case 'managed-repositories':
            // Any partition, region and account, as the SAM template must: 50 full ARNs in two
            // statements would pass IAM's 10,240 characters per role. The Deny that
            // thisRegistryOnly adds takes back everything outside this registry.
            return settings.managedPrefixes.map((prefix) => `${WIDE_REPOSITORY}${prefix}/*`);
          case 'registry':
            return [arn('ecr', 'repository/*')];
          case 'credential-secrets':
            return [arn('secretsmanager', 'secret:ecr-pullthroughcache/*')];
          case 'alert-topic':
            return [topic.topicArn];
          case 'own-function':
            return name === null ? [] : [arn('lambda', `function:${functionName(name)}`), arn('lambda', `function:${functionName(name)}:*`)];
          case 'own-log-group':
            return name === null ? [] : [logGroups[name].logGroupArn];
          case 'failure-queue':
            return [this.failureQueue.queueArn];
          case 'secret-keys':
            return [...settings.secretKmsKeyArns];
          case 'any-resource':
            return ['*'];
          case 'template-role':
            return [templateRole.roleArn];
          case 'consumer-principals':
            return [...settings.consumerPrincipalArns];
          case 'upstream-roles':
            return [...settings.upstreamRoleArns];
          case 'state-table':
            return [this.stateTable.tableArn];
          case 'template-keys':
            return [...settings.templateKmsKeyArns];
          case 'alert-topic-keys':
            return props.alertTopicKey === undefined ? [] : [props.alertTopicKey.keyArn];
          default:
            throw new Error(`permissions.json: scope "${scope}" is unknown to EcrPtcOps: teach lib/ecr-ptc-ops.ts its ARNs`);
        }
      },
      condition: (condition) => {
        const [kind, value] = Object.entries(condition)[0];
        switch (kind) {
          case 'tag-keys':
            return {
              'ForAllValues:StringEquals': {
                'aws:TagKeys': value === 'hardening' ? [...settings.hardeningTagKeys] : [settings.credentialExpiryTag],
              },
            };
          case 'via-service':
            return { StringEquals: { 'kms:ViaService': `${value}.${stack.region}.amazonaws.com` } };
          case 'passed-to-service':
            return { StringEquals: { 'iam:PassedToService': value } };
          default:
            throw new Error(`permissions.json: condition "${kind}" is unknown to EcrPtcOps`);
        }
      },
      switchOn: (switchName) => {
        if (switchName === 'credential-write-back') {
          return settings.credentialWriteBack;
        }
        throw new Error(`permissions.json: switch "${switchName}" is unknown to EcrPtcOps`);
      },
    });
    // Takes back, outside this account and region, what the wide managed-repositories ARNs grant.
    const thisRegistryOnly = (entry: RoleEntry): iam.PolicyStatement[] => {
      const actions = [
        ...new Set(
          entry.permissions
            .filter((permission) => permission.scope === 'managed-repositories')
            .filter((permission) => permission['only-with'] === null || (permission['only-with'] === 'credential-write-back' && settings.credentialWriteBack))
            .map((permission) => permission.action),
        ),
      ];
      return actions.length === 0
        ? []
        : [new iam.PolicyStatement({ sid: 'ThisRegistryOnly', effect: iam.Effect.DENY, actions, notResources: [arn('ecr', 'repository/*')] })];
    };
    templateRole.attachInlinePolicy(
      new iam.Policy(this, 'CreationTemplatePolicy', {
        policyName: 'template-repositories',
        statements: [...statements(templateEntry, deployment(null)), ...thisRegistryOnly(templateEntry)],
      }),
    );

    const roles = { 'creation-template': templateRole } as Record<FunctionName | 'creation-template', iam.Role>;
    for (const name of FUNCTION_NAMES) {
      const entry = roleEntry(name);
      roles[name] = new iam.Role(this, `${FUNCTIONS[name].id}Role`, {
        assumedBy: new iam.ServicePrincipal(entry['trusted-by']),
        permissionsBoundary: props.permissionsBoundary,
        inlinePolicies: {
          [name]: new iam.PolicyDocument({ statements: [...statements(entry, deployment(name)), ...thisRegistryOnly(entry)] }),
        },
      });
    }
    this.roles = roles;

    // ---- functions ----------------------------------------------------------------------------
    const codeDirectory = props.functionCodeDirectory ?? path.join(REPOSITORY, 'target', 'lambda');
    const functions = {} as Record<FunctionName, lambda.Function>;
    for (const name of FUNCTION_NAMES) {
      const spec = FUNCTIONS[name];
      const environment: Record<string, string> = {
        PTC_CONFIG: CONFIG_PATH,
        PTC_ALERT_TOPIC_ARN: topic.topicArn,
        PTC_TEMPLATE_ROLE_ARN: templateRole.roleArn,
        PTC_TEMPLATE_KMS_KEY_ARNS: settings.templateKmsKeyArns.join(','),
        PTC_STATE_TABLE: this.stateTable.tableName,
      };
      if (name === 'harden-repository') {
        // Lambda sets no variable with the execution role: a change made by this role is the
        // function's own and is acknowledged without work.
        environment.PTC_FUNCTION_ROLE_ARN = roles[name].roleArn;
        // The sweep excludes the pre-warm role from pull-time updates, so its pulls leave
        // lastRecordedPullTime alone (prewarm.exclude_from_pull_time).
        environment.PTC_PREWARM_ROLE_ARN = roles['prewarm-images'].roleArn;
      }
      let code: lambda.Code;
      if (props.code?.[name] !== undefined) {
        code = props.code[name]!;
      } else if (bucket) {
        code = lambda.Code.fromBucket(bucket, key(`${name}.zip`));
      } else if (props.functionFactory !== undefined && props.functionCodeDirectory === undefined) {
        // The factory's function brings its own code; this stands in and must not survive.
        code = lambda.Code.fromInline(FACTORY_SUPPLIES_CODE);
      } else {
        const asset = functionAsset(codeDirectory, name);
        code = asset.code;
        if (asset.placeholder && props.allowPlaceholderCode !== true) {
          Annotations.of(this).addError(
            `[${PLACEHOLDER_CODE}] ${name}: the code in ${codeDirectory} is an empty placeholder, which Lambda cannot run: run \`make package\` (or set allowPlaceholderCode to synthesize anyway)`,
          );
        }
      }
      const factory = props.functionFactory;
      const make = factory === undefined
        ? (scope: Construct, id: string, functionProps: lambda.FunctionProps) => new lambda.Function(scope, id, functionProps)
        : (scope: Construct, id: string, functionProps: lambda.FunctionProps, fn: FunctionName) => {
            try {
              return factory(scope, id, functionProps, fn);
            } catch (error) {
              // Lambda's OS-only runtime takes no inline code, so CDK refuses the stand-in.
              if (code instanceof lambda.InlineCode) {
                throw new Error(`EcrPtcOps: invalid props\n  functionFactory: ${fn} was made with the stand-in code: give it code of its own (a lambda.Code, a RustFunction's build), or set code or functionCodeDirectory`);
              }
              throw error;
            }
          };
      functions[name] = make(this, `${spec.id}Function`, {
        functionName: functionName(name),
        description: spec.description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code,
        // The role grants exactly permissions.json: nothing CDK would add on its own.
        role: roles[name].withoutPolicyUpdates(),
        memorySize: spec.memorySize,
        timeout: Duration.seconds(spec.timeout),
        // Optional: without it two runs may overlap; every write is diffed against the profile
        // first and the state table's conditional writes count alerts and restorations once.
        reservedConcurrentExecutions: name === 'harden-repository' && settings.hardenReservedConcurrency === 1 ? 1 : undefined,
        layers: [configLayer],
        environment,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: settings.logLevel as lambda.ApplicationLogLevel,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        logGroup: logGroups[name],
        retryAttempts: 2,
        maxEventAge: Duration.seconds(spec.maxEventAge),
        onFailure: new destinations.SqsDestination(this.failureQueue),
      }, name);
    }
    this.functions = functions;

    // ---- rules and schedules ------------------------------------------------------------------
    const harden = functions['harden-repository'];
    for (const [id, { description, pattern }] of Object.entries(EVENT_PATTERNS)) {
      const { source, 'detail-type': detailType, detail } = pattern as { source: string[]; 'detail-type': string[]; detail: Record<string, unknown> };
      new events.Rule(this, `HardenRepository${id}`, {
        description,
        eventPattern: { source, detailType, detail: withOwnRole(detail, roles['harden-repository'].roleArn) as Record<string, unknown> },
        targets: [new targets.LambdaFunction(harden)],
      });
    }
    for (const [id, { function: name, description, pattern }] of Object.entries(REGISTRY_EVENT_PATTERNS)) {
      const { source, 'detail-type': detailType, detail } = pattern as { source: string[]; 'detail-type': string[]; detail: Record<string, unknown> };
      new events.Rule(this, `${FUNCTIONS[name].id}${id}`, {
        description,
        eventPattern: { source, detailType, detail: withOwnRole(detail, roles['harden-repository'].roleArn) as Record<string, unknown> },
        targets: [new targets.LambdaFunction(functions[name])],
      });
    }
    const schedules: [FunctionName, string, string][] = [
      ['harden-repository', settings.sweepSchedule, 'harden-repository sweeps every managed repository'],
      ['validate-cache-rules', settings.ruleValidationSchedule, 'validate-cache-rules checks every rule'],
      ['check-credentials', settings.credentialCheckSchedule, 'check-credentials checks every credential secret'],
    ];
    for (const [name, expression, description] of schedules) {
      new events.Rule(this, `${FUNCTIONS[name].id}Schedule`, {
        description,
        schedule: events.Schedule.expression(expression),
        targets: [new targets.LambdaFunction(functions[name])],
      });
    }
    // The usage summary is a direct invoke: the schedule's constant input replaces the event.
    new events.Rule(this, 'HardenRepositoryUsageSummary', {
      description: 'harden-repository posts what the cache holds per managed prefix',
      schedule: events.Schedule.expression(settings.usageSummarySchedule),
      targets: [new targets.LambdaFunction(harden, { event: events.RuleTargetInput.fromObject({ usage: true }) })],
    });
    // The pre-warm schedule rebuilds the real `Scheduled Event` and adds `detail.images`.
    const prewarm = functions['prewarm-images'];
    const detail = settings.prewarmImages.length > 0 ? JSON.stringify({ images: settings.prewarmImages }) : '{}';
    const prewarmSchedule = new events.CfnRule(this, 'PrewarmImagesSchedule', {
      description: 'prewarm-images pulls its image list through the cache',
      scheduleExpression: settings.prewarmSchedule,
      state: 'ENABLED',
      targets: [
        {
          id: 'prewarm-images',
          arn: prewarm.functionArn,
          inputTransformer: {
            inputPathsMap: { id: '$.id', account: '$.account', time: '$.time', region: '$.region', resources: '$.resources' },
            inputTemplate: `{"version":"0","id":"<id>","detail-type":"Scheduled Event","source":"aws.events","account":"<account>","time":"<time>","region":"<region>","resources":<resources>,"detail":${detail}}`,
          },
        },
      ],
    });
    new lambda.CfnPermission(this, 'PrewarmImagesSchedulePermission', {
      action: 'lambda:InvokeFunction',
      functionName: prewarm.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: prewarmSchedule.attrArn,
    });

    // ---- alarms: every one notifies the topic on ALARM and on OK ------------------------------
    const alarm = (
      id: string,
      description: string,
      metric: { namespace: string; name: string; dimension: [string, string]; statistic: string; period: number },
      treatMissingData: string,
    ): cloudwatch.CfnAlarm =>
      new cloudwatch.CfnAlarm(this, id, {
        alarmDescription: description,
        namespace: metric.namespace,
        metricName: metric.name,
        dimensions: [{ name: metric.dimension[0], value: metric.dimension[1] }],
        statistic: metric.statistic,
        period: metric.period,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData,
        alarmActions: [topic.topicArn],
        okActions: [topic.topicArn],
      });
    const product = (name: string, fn: FunctionName, statistic: string) => ({
      namespace: NAMESPACE,
      name,
      dimension: ['Function', fn] as [string, string],
      statistic,
      period: 3600,
    });
    const alarmList = [
      alarm('RulesInvalidAlarm', 'A pull-through cache rule failed validation or its secret is broken (see the validate-cache-rules alert)', product('RulesInvalid', 'validate-cache-rules', 'Maximum'), 'ignore'),
      alarm('CredentialsExpiringSoonAlarm', 'An upstream credential expires within credentials.warn_days', product('CredentialsExpiringSoon', 'check-credentials', 'Maximum'), 'ignore'),
      alarm('CredentialsInvalidAlarm', 'An upstream credential secret is malformed, expired or refused', product('CredentialsInvalid', 'check-credentials', 'Maximum'), 'ignore'),
      alarm('HardeningFailuresAlarm', 'harden-repository could not bring a repository to its profile', product('HardeningFailures', 'harden-repository', 'Sum'), 'notBreaching'),
      alarm('CacheSyncFailuresAlarm', 'ECR reported failed pull-through cache syncs (ECR Pull Through Cache Action)', product('PullFailures', 'harden-repository', 'Sum'), 'notBreaching'),
      alarm('PrewarmFailuresAlarm', 'prewarm-images could not pull an image through the cache', product('ImagesFailed', 'prewarm-images', 'Maximum'), 'ignore'),
      ...FUNCTION_NAMES.map((name) =>
        alarm(
          `${FUNCTIONS[name].id}ErrorsAlarm`,
          name === 'harden-repository'
            ? 'harden-repository invocations failed (bad event, configuration, or the rules could not be listed)'
            : `${name} invocations failed`,
          { namespace: 'AWS/Lambda', name: 'Errors', dimension: ['FunctionName', functions[name].functionName], statistic: 'Sum', period: 300 },
          'notBreaching',
        ),
      ),
      alarm(
        'DeadLettersAlarm',
        'An event failed every retry and waits in the dead-letter queue (FailureQueueUrl output)',
        { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimension: ['QueueName', this.failureQueue.queueName], statistic: 'Maximum', period: 300 },
        'notBreaching',
      ),
    ];

    // ---- dashboard ----------------------------------------------------------------------------
    const region = stack.region;
    const series = (fn: FunctionName, ...names: string[]) => names.map((name) => [NAMESPACE, name, 'Function', fn]);
    const body = {
      widgets: [
        { type: 'alarm', x: 0, y: 0, width: 24, height: 3, properties: { title: 'Alarms', alarms: alarmList.map((a) => a.attrArn) } },
        {
          type: 'metric', x: 0, y: 3, width: 12, height: 6,
          properties: {
            title: 'Rule health (1 valid, 0 broken) per prefix', region, view: 'timeSeries', stat: 'Minimum', period: 3600,
            yAxis: { left: { min: 0, max: 1 } },
            metrics: [[{ expression: `SEARCH('{${NAMESPACE},Function,Prefix} MetricName="RuleValid"', 'Minimum', 3600)`, id: 'rules' }]],
          },
        },
        {
          type: 'metric', x: 12, y: 3, width: 12, height: 6,
          properties: {
            title: 'Days until credential expiry per secret', region, view: 'timeSeries', stat: 'Minimum', period: 86400,
            metrics: [[{ expression: `SEARCH('{${NAMESPACE},Function,Secret} MetricName="DaysUntilExpiry"', 'Minimum', 86400)`, id: 'expiry' }]],
          },
        },
        {
          type: 'metric', x: 0, y: 9, width: 12, height: 6,
          properties: {
            title: 'Hardening', region, view: 'timeSeries', stat: 'Sum', period: 3600,
            metrics: series('harden-repository', 'RepositoriesChecked', 'RepositoriesChanged', 'SettingsChanged', 'HardeningFailures', 'PullFailures'),
          },
        },
        {
          type: 'metric', x: 12, y: 9, width: 12, height: 6,
          properties: {
            title: 'Pre-warm', region, view: 'timeSeries', stat: 'Sum', period: 3600,
            metrics: [
              ...series('prewarm-images', 'ImagesRequested', 'ImagesWarmed', 'ImagesAlreadyCached', 'ImagesFailed'),
              [NAMESPACE, 'WarmSeconds', 'Function', 'prewarm-images', { stat: 'Maximum', yAxis: 'right' }],
            ],
          },
        },
        {
          type: 'metric', x: 0, y: 15, width: 12, height: 6,
          properties: {
            title: 'Rules and credentials', region, view: 'timeSeries', stat: 'Maximum', period: 3600,
            metrics: [
              ...series('validate-cache-rules', 'RulesChecked', 'RulesInvalid'),
              ...series('check-credentials', 'CredentialsExpiringSoon', 'CredentialsInvalid'),
            ],
          },
        },
        {
          type: 'metric', x: 12, y: 15, width: 12, height: 6,
          properties: {
            title: 'Function errors and dead letters', region, view: 'timeSeries', stat: 'Sum', period: 300,
            metrics: [
              ...FUNCTION_NAMES.map((name) => ['AWS/Lambda', 'Errors', 'FunctionName', functions[name].functionName]),
              ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', this.failureQueue.queueName, { stat: 'Maximum' }],
            ],
          },
        },
        {
          type: 'metric', x: 0, y: 21, width: 24, height: 6,
          properties: {
            title: 'Cache usage per prefix (weekly summary): bytes, and unused repositories on the right', region, view: 'timeSeries', stat: 'Maximum', period: 86400,
            metrics: [
              [{ expression: `SEARCH('{${NAMESPACE},Function,Prefix} MetricName="CachedBytes"', 'Maximum', 86400)`, id: 'bytes' }],
              [{ expression: `SEARCH('{${NAMESPACE},Function,Prefix} MetricName="UnusedRepositories"', 'Maximum', 86400)`, id: 'unused', yAxis: 'right' }],
            ],
          },
        },
      ],
    };
    this.alarms = Object.fromEntries(
      alarmList.map((cfn) => [cfn.node.id, cloudwatch.Alarm.fromAlarmArn(this, `${cfn.node.id}Ref`, cfn.attrArn)]),
    );
    const dashboard = new cloudwatch.CfnDashboard(this, 'Dashboard', {
      // Dashboards are global to the account: the region keeps the stacks of a StackSet (or
      // one name in several regions) from colliding.
      dashboardName: `${namePrefix}-${stack.region}`,
      dashboardBody: stack.toJsonString(body),
    });

    this.dashboard = dashboard;

    // ---- outputs, named as the SAM template's: opt-in, so two instances fit one stack ----------
    if (props.outputs !== true) {
      return;
    }
    const output = (name: string, value: string, description?: string): void => {
      new CfnOutput(this, name, { value, description }).overrideLogicalId(name);
    };
    output('AlertTopicArn', topic.topicArn, 'Subscribe AWS Chatbot / Amazon Q Developer in chat applications (or anything else) here');
    output('FailureQueueUrl', this.failureQueue.queueUrl, 'Events whose asynchronous invocation failed after every retry');
    output('DashboardName', dashboard.ref, 'The CloudWatch dashboard');
    for (const name of FUNCTION_NAMES) {
      output(`${FUNCTIONS[name].id}FunctionName`, functions[name].functionName);
    }
  }

  /** Lets `grantee` invoke the functions on demand (a sweep, a validation, a pre-warm); all four by default. */
  public grantInvoke(grantee: iam.IGrantable, ...names: FunctionName[]): iam.Grant[] {
    return (names.length === 0 ? [...FUNCTION_NAMES] : names).map((name) => this.functions[name].grantInvoke(grantee));
  }

  /** Lets `grantee` publish to the alert topic (a function of your own with findings to send). */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.topic.grantPublish(grantee);
  }

  /** A metric the functions emit (namespace `EcrPtcOps`, dimension `Function`), hourly as the alarms read it. */
  public metric(metricName: string, fn: FunctionName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: NAMESPACE, metricName, dimensionsMap: { Function: fn }, period: Duration.hours(1), ...props });
  }

  /** Pull-through cache rules that failed validation (maximum per hour). */
  public metricRulesInvalid(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RulesInvalid', 'validate-cache-rules', { statistic: 'Maximum', ...props });
  }

  /** Credentials that expire within `credentials.warn_days` (maximum per hour). */
  public metricCredentialsExpiringSoon(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CredentialsExpiringSoon', 'check-credentials', { statistic: 'Maximum', ...props });
  }

  /** Repositories harden-repository could not bring to their profile (sum per hour). */
  public metricHardeningFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('HardeningFailures', 'harden-repository', { statistic: 'Sum', ...props });
  }

  /** Images prewarm-images could not pull through the cache (maximum per hour). */
  public metricImagesFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ImagesFailed', 'prewarm-images', { statistic: 'Maximum', ...props });
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
