import { z } from 'zod';

/** The metadata key that declares a number field's SQL type (zod has no decimal of its own). */
export const SQL_TYPE_KEY = 'sqlType';

/** The largest precision DuckDB's DECIMAL (and Delta's) holds. */
export const MAX_DECIMAL_PRECISION = 38;

/**
 * A number field stored as `DECIMAL(precision, scale)` instead of DOUBLE: money and other
 * exact quantities, so sums keep their cents (`1111.16`, never `1111.1599999999999`). It is
 * `z.number().meta({ sqlType: 'DECIMAL(p,s)' })`; the metadata travels into the exported
 * JSON Schema (`"sqlType": "DECIMAL(18,2)"`) for producers. A value with more decimals than
 * `scale` is a wrong type (quarantined), never rounded silently. Chain checks as usual.
 *
 * @example
 * amount: decimal(18, 2).nonnegative().describe('Order total in `currency`')
 */
export function decimal(precision = 18, scale = 2): z.ZodNumber {
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_DECIMAL_PRECISION) {
    throw new RangeError(`decimal precision must be an integer from 1 to ${MAX_DECIMAL_PRECISION}, got ${precision}`);
  }
  if (!Number.isInteger(scale) || scale < 0 || scale > precision) throw new RangeError(`decimal scale must be an integer from 0 to the precision (${precision}), got ${scale}`);
  return z.number().meta({ [SQL_TYPE_KEY]: `DECIMAL(${precision},${scale})` });
}

/** `DECIMAL(p,s)` (any case and spacing) as its precision and scale; undefined for anything else or out of range. */
export function parseDecimalType(type: string): { readonly precision: number; readonly scale: number } | undefined {
  const match = /^\s*DECIMAL\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$/i.exec(type);
  if (!match) return undefined;
  const precision = Number(match[1]);
  const scale = Number(match[2]);
  if (precision < 1 || precision > MAX_DECIMAL_PRECISION || scale > precision) return undefined;
  return { precision, scale };
}
