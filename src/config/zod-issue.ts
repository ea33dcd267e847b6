import type { z } from 'zod';
import type { ConfigIssue } from '../core/index.js';

/**
 * One zod issue as a `ConfigIssue`: the path in the user's file (`batch.maxMs`,
 * `tests[2].kind`) and zod's message, or for unknown keys `unknown field "x"`.
 *
 * @example
 * throw new ConfigError(file, result.error.issues.map(configIssueOf));
 */
export function configIssueOf(issue: z.core.$ZodIssue): ConfigIssue {
  const path = issue.path
    .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : `${i === 0 ? '' : '.'}${String(segment)}`))
    .join('');
  if (issue.code === 'unrecognized_keys') return { path, message: `unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
  return { path, message: issue.message };
}
