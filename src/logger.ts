import pino from 'pino';
import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';

/** JSON lines on stdout; child loggers carry lifecycle id, decky and workflow id where they apply. */
export function createLogger(level: string, name = 'decnet'): pino.Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

const SDK_LEVELS: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
/** The SDK's metadata keys, renamed to the fields our own lines use. */
const RENAMED: Record<string, string> = { workflowId: 'workflow_id', activityType: 'activity', error: 'err' };
/** Logged by the SDK for every failed activity attempt; our activity interceptor logs it with the product fields. */
const ALREADY_LOGGED = new Set(['Activity failed']);

/**
 * The Temporal SDK's logger (Runtime.install) as pino JSON lines, so a worker prints one format.
 * Messages below `minLevel` are dropped: the SDK is chatty at INFO (every worker state change).
 */
export function temporalSdkLogger(logger: pino.Logger, minLevel: LogLevel = 'WARN'): SdkLogger {
  const sdk = logger.child({ component: 'temporal-sdk' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (SDK_LEVELS[level] < SDK_LEVELS[minLevel] || ALREADY_LOGGED.has(message)) return;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(meta ?? {})) fields[RENAMED[key] ?? key] = value;
    delete fields.taskToken; // opaque and long
    const method = level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARN' ? 'warn' : 'error';
    sdk[method](fields, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
