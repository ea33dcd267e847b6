import { readFileSync } from 'node:fs';

function packageVersion(): string {
  try {
    const json = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** What lakeloop writes as `commitInfo.engineInfo`: `lakeloop/<package version>`. */
export const ENGINE_INFO = `lakeloop/${packageVersion()}`;
