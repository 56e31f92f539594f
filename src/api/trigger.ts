/** Who asked for an operation, as its lifecycle rows record it: the X-Decnet-Trigger header. */
import { z } from 'zod';

/** The CLI says it is the CLI; `scheduled` belongs to the schedules, never to a request. */
export const RequestTriggerSchema = z.enum(['operator', 'cli']).default('operator');

/** The header as the routes that start operations document it. */
export const TriggerHeaders = z.object({
  'X-Decnet-Trigger': RequestTriggerSchema.meta({ description: 'Who asks: the CLI marks its lifecycle rows `cli`' }),
});

export const triggerOf = (req: { header(name: string): string | undefined }) => RequestTriggerSchema.parse(req.header('X-Decnet-Trigger') ?? undefined);
