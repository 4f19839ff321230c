export * from './ecr-ptc-ops';
export { ROLES, RoleEntry, PermissionEntry } from './permissions';
export { PREFIX_PATTERN, LOG_LEVELS, LOG_RETENTION_DAYS } from './validation';
