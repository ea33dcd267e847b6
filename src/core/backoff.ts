import { systemClock, type Clock } from './clock.js';

/** How an operation is retried: exponential backoff with full jitter. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({ attempts: 5, baseDelayMs: 50, maxDelayMs: 5_000 });

/** The delay before retry number `attempt` (1-based): uniform in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `operation` until it succeeds, `isRetryable` says no, or attempts run out.
 *
 * @example
 * await withRetry(() => s3.send(cmd), { isRetryable: (e) => isTransient(e) });
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: {
    isRetryable: (error: unknown) => boolean;
    policy?: RetryPolicy;
    clock?: Clock;
    onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  },
): Promise<T> {
  const policy = options.policy ?? defaultRetryPolicy;
  const clock = options.clock ?? systemClock;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !options.isRetryable(error)) throw error;
      const delayMs = backoffDelayMs(policy, attempt);
      options.onRetry?.(error, attempt, delayMs);
      await clock.sleep(delayMs);
    }
  }
}
