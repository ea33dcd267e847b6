import { LakeloopError } from './errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** Whether `text` is a duration such as `90s`, `5m`, `2h`, `7d`, `1w`. */
export function isDuration(text: string): boolean {
  return DURATION.test(text.trim());
}

/**
 * Milliseconds of a duration written as a number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`).
 *
 * @example
 * parseDuration('2h') // 7_200_000
 */
export function parseDuration(text: string, what = 'duration'): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new LakeloopError('USAGE', `${what} ${JSON.stringify(text)} is not a duration`, { hint: 'Write a number and a unit: 90s, 5m, 2h, 7d, 1w.' });
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}
