export * from './deployment-settings';
export * from './decky';
export * from './decky-lifecycle';
export * from './api-token';
export * from './idempotency-key';
import { DeploymentSettingsSchema } from './deployment-settings';
import { DeckySchema } from './decky';
import { DeckyLifecycleSchema } from './decky-lifecycle';
import { ApiTokenSchema } from './api-token';
import { IdempotencyKeySchema } from './idempotency-key';

export const entitySchemas = [DeploymentSettingsSchema, DeckySchema, DeckyLifecycleSchema, ApiTokenSchema, IdempotencyKeySchema];
