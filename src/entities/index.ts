export * from './deployment-settings';
export * from './decky';
export * from './decky-lifecycle';
export * from './api-token';
export * from './idempotency-key';
export * from './swarm-host';
export * from './enrollment-token';
import { DeploymentSettingsSchema } from './deployment-settings';
import { DeckySchema } from './decky';
import { DeckyLifecycleSchema } from './decky-lifecycle';
import { ApiTokenSchema } from './api-token';
import { IdempotencyKeySchema } from './idempotency-key';
import { SwarmHostSchema } from './swarm-host';
import { EnrollmentTokenSchema } from './enrollment-token';

export const entitySchemas = [
  DeploymentSettingsSchema,
  DeckySchema,
  DeckyLifecycleSchema,
  ApiTokenSchema,
  IdempotencyKeySchema,
  SwarmHostSchema,
  EnrollmentTokenSchema,
];
