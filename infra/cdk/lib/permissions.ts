// The roles' permissions, from permissions.json: the output of `ptc permissions --json`, which
// prints what each function declares next to its code (shared/src/*/permissions.rs). A Rust
// test fails when the file is stale; `make cdk-permissions` writes it again.
import * as iam from 'aws-cdk-lib/aws-iam';
import document from '../permissions.json';

export interface PermissionEntry {
  readonly action: string;
  readonly scope: string;
  readonly condition: Readonly<Record<string, string>> | null;
  readonly 'only-with': string | null;
  readonly reason: string;
}

export interface RoleEntry {
  readonly role: string;
  readonly function: string | null;
  readonly 'trusted-by': string;
  readonly permissions: readonly PermissionEntry[];
}

/** Every role of the deployment, as `ptc permissions --json` lists them. */
export const ROLES: readonly RoleEntry[] = document.roles as RoleEntry[];

export function roleEntry(name: string): RoleEntry {
  const entry = ROLES.find((role) => role.role === name);
  if (entry === undefined) {
    throw new Error(`permissions.json has no role "${name}": run \`make cdk-permissions\``);
  }
  return entry;
}

/** What a deployment calls its resources and how it sets the switches. */
export interface Deployment {
  /** The ARNs (or tokens) each scope stands for; an empty list grants nothing. */
  readonly resources: (scope: string) => string[];
  /** The IAM condition block a permission's condition stands for. */
  readonly condition: (condition: Readonly<Record<string, string>>) => Record<string, unknown>;
  /** Whether a switch (`credential-write-back`) is on. */
  readonly switchOn: (name: string) => boolean;
}

function pascal(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/**
 * One statement per scope and condition, with the actions granted on it, in the order the
 * permissions are declared. Scopes with no resource and permissions whose switch is off grant
 * nothing.
 */
export function statements(role: RoleEntry, deployment: Deployment): iam.PolicyStatement[] {
  const groups = new Map<string, { sid: string; actions: string[]; resources: string[]; condition?: Record<string, unknown> }>();
  for (const permission of role.permissions) {
    if (permission.action.includes('*')) {
      throw new Error(`permissions.json: ${role.role} declares the wildcard action ${permission.action}`);
    }
    if (permission['only-with'] !== null && !deployment.switchOn(permission['only-with'])) {
      continue;
    }
    const resources = deployment.resources(permission.scope);
    if (resources.length === 0) {
      continue;
    }
    const conditionKey = permission.condition === null ? '' : JSON.stringify(permission.condition);
    const key = `${permission.scope}|${conditionKey}`;
    let group = groups.get(key);
    if (group === undefined) {
      const conditionName = permission.condition === null ? '' : Object.keys(permission.condition).map(pascal).join('');
      group = {
        sid: pascal(permission.scope) + conditionName,
        actions: [],
        resources,
        condition: permission.condition === null ? undefined : deployment.condition(permission.condition),
      };
      groups.set(key, group);
    }
    if (!group.actions.includes(permission.action)) {
      group.actions.push(permission.action);
    }
  }
  return [...groups.values()].map(
    (group) =>
      new iam.PolicyStatement({
        sid: group.sid,
        effect: iam.Effect.ALLOW,
        actions: group.actions,
        resources: group.resources,
        conditions: group.condition,
      }),
  );
}
