import { describe, expect, it } from 'vitest';
import { escapeControl } from '../../src/core/index.js';

/** What serve prints of a user's string fits on one line and cannot drive the terminal. */
describe('escapeControl', () => {
  it('escapes control characters JSON-style and leaves everything else, backslashes included', () => {
    expect(escapeControl('a\nb\r\tc\u0000\u0007\u001b[2K\u007f\u0085\u2028é ✓ \\n')).toBe('a\\nb\\r\\tc\\u0000\\u0007\\u001b[2K\\u007f\\u0085\\u2028é ✓ \\n');
    expect(escapeControl('orders/2026-03-01.ndjson')).toBe('orders/2026-03-01.ndjson');
  });

  it('is idempotent: escaping twice changes nothing', () => {
    const once = escapeControl('x\ny\u001b');
    expect(escapeControl(once)).toBe(once);
  });
});
