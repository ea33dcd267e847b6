import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { parseModelFile } from '../../src/models/index.js';

/** The issues a model header yields, as "path: message" lines. */
function issuesOf(header: string): string[] {
  try {
    parseModelFile('sql/silver/orders.sql', `/*\n${header}\n*/\nSELECT 1 AS x`);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected parseModelFile to throw');
}

/** `owner` and `runbook` in a model header: what alerts about the table carry, validated where the file is read. */
describe('model header owner and runbook', () => {
  it('keeps an owner and a runbook URL or line of text, trimmed', () => {
    const url = parseModelFile('a.sql', '/*\nkind: full\nowner: payments-team\nrunbook: " https://wiki.example/runbooks/orders#late "\n*/\nSELECT 1 AS x');
    expect(url.header).toMatchObject({ owner: 'payments-team', runbook: 'https://wiki.example/runbooks/orders#late' });
    const text = parseModelFile('a.sql', '/*\nkind: full\nrunbook: page payments-oncall, then lakeloop reconcile silver.orders\n*/\nSELECT 1 AS x');
    expect(text.header).toMatchObject({ owner: undefined, runbook: 'page payments-oncall, then lakeloop reconcile silver.orders' });
    expect(parseModelFile('a.sql', 'SELECT 1 AS x').header.runbook).toBeUndefined();
  });

  it('refuses an empty owner or runbook, a runbook that is not http(s), has credentials or is not one line', () => {
    expect(issuesOf('kind: full\nowner: ""')).toEqual(['owner: expected the owning team or person, e.g. owner: payments-team']);
    expect(issuesOf('kind: full\nrunbook: "  "')).toEqual(['runbook: expected a URL (https://…) or a line of text saying what to do when this alerts']);
    expect(issuesOf('kind: full\nrunbook: 42')).toEqual(['runbook: expected a URL (https://…) or a line of text saying what to do when this model alerts']);
    expect(issuesOf('kind: full\nrunbook: ftp://files.example/runbook.txt')).toEqual(['runbook: expected an http(s) URL or a line of text, got a ftp: URL']);
    expect(issuesOf('kind: full\nrunbook: https://ops:hunter2@wiki.example/orders')).toEqual([
      'runbook: the URL carries a user or password; alerts include the runbook, so link to it without credentials',
    ]);
    expect(issuesOf('kind: full\nrunbook: "step one\\nstep two"')).toEqual([
      'runbook: expected one line (no line breaks or control characters); link to a longer runbook instead',
    ]);
  });

  it('a misspelt runbook or owner key gets a did-you-mean', () => {
    expect(issuesOf('kind: full\nrun_book: https://wiki.example/x')[0]).toMatch(/^run_book: unknown header key \(did you mean runbook\?\)/);
    expect(issuesOf('kind: full\nowners: ops')[0]).toMatch(/^owners: unknown header key \(did you mean owner\?\)/);
  });
});
