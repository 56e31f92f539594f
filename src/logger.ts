import pino from 'pino';

/** JSON lines on stdout; child loggers carry lifecycle id, decky and workflow id where they apply. */
export function createLogger(level: string, name = 'decnet'): pino.Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
