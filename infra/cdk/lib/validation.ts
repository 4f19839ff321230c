// Props checked at synth time, each problem naming its prop: what CloudFormation would refuse
// at deploy time (or, worse, accept and grant too much) is refused before a template exists.
import { Token } from 'aws-cdk-lib';

/** A repository prefix as ECR spells repository names: the SAM template's AllowedPattern. */
export const PREFIX_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** `rate(<n> <unit>)` or `cron(<six fields>)`, as EventBridge schedules take them. */
const RATE_PATTERN = /^rate\(\s*[1-9][0-9]*\s+(minute|minutes|hour|hours|day|days)\s*\)$/;
const CRON_PATTERN = /^cron\(\s*\S+(\s+\S+){5}\s*\)$/;

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[A-Za-z0-9-]+$/;
const NAME_PREFIX = /^[A-Za-z0-9_-]+$/;
/** Function names are `<prefix>-<function>`, at most 64 characters; the longest is 21. */
export const MAX_NAME_PREFIX = 43;

/** Collects problems, each as `<prop>: <what is wrong>`. */
export class Problems {
  private readonly found: string[] = [];

  add(prop: string, problem: string): void {
    this.found.push(`${prop}: ${problem}`);
  }

  throwIfAny(construct: string): void {
    if (this.found.length > 0) {
      throw new Error(`${construct}: invalid props\n  ${this.found.join('\n  ')}`);
    }
  }
}

const literal = (value: string): boolean => !Token.isUnresolved(value);

export function checkPrefixes(problems: Problems, prop: string, prefixes: readonly string[]): void {
  if (prefixes.length === 0) {
    problems.add(prop, 'is empty: name at least one pull-through cache rule prefix (e.g. docker-hub)');
    return;
  }
  const seen = new Set<string>();
  for (const prefix of prefixes) {
    if (!literal(prefix)) {
      problems.add(prop, 'takes literal prefixes, not tokens (one IAM resource is made per prefix at synth)');
      continue;
    }
    if (prefix === 'ROOT' || prefix.includes('*')) {
      problems.add(prop, `"${prefix}" would grant every repository of the registry: no wildcard and no ROOT`);
    } else if (!PREFIX_PATTERN.test(prefix)) {
      problems.add(
        prop,
        `"${prefix}" has characters ECR refuses in a repository prefix: lowercase letters and digits, joined by ., _ or - and separated by / (docker-hub, ghcr, team/app)`,
      );
    } else if (prefix.length < 2 || prefix.length > 30) {
      problems.add(prop, `"${prefix}" is ${prefix.length} characters: ECR takes 2 to 30`);
    }
    if (seen.has(prefix)) {
      problems.add(prop, `"${prefix}" is listed twice`);
    }
    seen.add(prefix);
  }
}

export function checkSchedule(problems: Problems, prop: string, expression: string): void {
  if (!literal(expression)) {
    return;
  }
  if (!RATE_PATTERN.test(expression) && !CRON_PATTERN.test(expression)) {
    problems.add(
      prop,
      `"${expression}" is not an EventBridge schedule: rate(<n> minutes|hours|days) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`,
    );
  }
}

export function checkNonEmptyList(problems: Problems, prop: string, values: readonly string[], what: string): void {
  if (values.length === 0) {
    problems.add(prop, `is empty: name at least one ${what}`);
  }
  for (const value of values) {
    if (literal(value) && value.trim().length === 0) {
      problems.add(prop, `has an empty ${what}`);
    }
  }
}

export function checkTagKey(problems: Problems, prop: string, key: string): void {
  if (literal(key) && (key.length === 0 || key.length > 128)) {
    problems.add(prop, `"${key}" is not a tag key (1 to 128 characters)`);
  }
}

export function checkKmsKeyArns(problems: Problems, prop: string, arns: readonly string[]): void {
  for (const arn of arns) {
    if (literal(arn) && !KMS_KEY_ARN.test(arn)) {
      problems.add(prop, `"${arn}" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`);
    }
  }
}

/** A role or user ARN without wildcards: the SAM template's AllowedPattern of the principal parameters. */
export function checkPrincipalArns(problems: Problems, prop: string, arns: readonly string[], kinds: readonly ('role' | 'user')[]): void {
  const pattern = new RegExp(`^arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:(?:${kinds.join('|')})/[A-Za-z0-9+=,.@_/-]+$`);
  for (const arn of arns) {
    if (literal(arn) && !pattern.test(arn)) {
      problems.add(prop, `"${arn}" is not an IAM ${kinds.join(' or ')} ARN without wildcards (arn:aws:iam::<account>:${kinds[0]}/<name>)`);
    }
  }
}

export function checkEmail(problems: Problems, prop: string, email: string): void {
  if (literal(email) && email !== '' && !/^[^@\s]+@[^@\s]+$/.test(email)) {
    problems.add(prop, `"${email}" is not an e-mail address (leave it empty for none)`);
  }
}

export function checkImages(problems: Problems, prop: string, images: readonly string[]): void {
  for (const image of images) {
    if (literal(image) && (image.trim() === '' || /[\s,"]/.test(image))) {
      problems.add(prop, `"${image}" is not an image reference (nginx:1.27, registry.k8s.io/pause:3.10)`);
    }
  }
}

export function checkOneOf<T>(problems: Problems, prop: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value)) {
    problems.add(prop, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
  }
}

export function checkNamePrefix(problems: Problems, prop: string, prefix: string): void {
  if (!literal(prefix)) {
    problems.add(prop, 'must be known at synth (set namePrefix, or give the stack a name)');
  } else if (!NAME_PREFIX.test(prefix) || prefix.length > MAX_NAME_PREFIX) {
    problems.add(
      prop,
      `"${prefix}" must be 1 to ${MAX_NAME_PREFIX} letters, digits, - or _ (functions are named <prefix>-<function>, at most 64 characters)`,
    );
  }
}
