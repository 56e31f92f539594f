/**
 * Mutation intervals arrive as minutes (JSON, UI) or as duration strings (INI, CLI).
 * Everything downstream (DB, Temporal schedules) works in whole minutes only.
 */
import { FleetInputError } from './errors';

const MINUTES_PER_UNIT: Record<string, number> = {
  m: 1,
  h: 60,
  d: 24 * 60,
  w: 7 * 24 * 60,
  M: 30 * 24 * 60,
  y: 365 * 24 * 60,
};

/** Ten years: longer than that is a typo, and keeps schedule arithmetic far from overflow. */
const MAX_MINUTES = 525_600 * 10;

const DURATION_PATTERN = /^(\d+)\s*([mhdwMy]?)$/;

/**
 * Whole minutes from a number of minutes or a string like "45", "30m", "2h", "2d", "1w",
 * "1M" (30 days), "1y" (365 days). `null` (no schedule) and `undefined` (not given) pass through.
 */
export function parseMutateInterval(value: number | string | null | undefined): number | null | undefined {
  if (value === null || value === undefined) return value;
  const minutes = typeof value === 'number' ? value : minutesFromDuration(value);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_MINUTES) {
    throw invalid(value, `must be whole minutes from 1 to ${MAX_MINUTES} (ten years)`);
  }
  return minutes;
}

function minutesFromDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) throw invalid(text, 'must be minutes or a duration like "30m", "2h", "2d", "1w", "1M", "1y"');
  return Number(match[1]) * MINUTES_PER_UNIT[match[2] || 'm'];
}

function invalid(value: number | string, reason: string): FleetInputError {
  return new FleetInputError(`${JSON.stringify(value)} is not a valid interval: ${reason}`, { key: 'mutate_interval' });
}
