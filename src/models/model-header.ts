import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../core/index.js';
import { lineAt, MODEL_KINDS, type ModelHeader } from './model.js';

const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const HeaderSchema = z.strictObject({
  kind: z.enum(MODEL_KINDS),
  name: z.string().regex(/^([a-z]+\.)?[A-Za-z0-9_][A-Za-z0-9_-]*$/).optional(),
  partition_by: names.optional(),
  unique_key: names.optional(),
  version_by: z.string().min(1).optional(),
  delete_when: z.string().min(1).optional(),
  lateness: z.string().min(1).optional(),
  owner: z.string().min(1).optional(),
  freshness: z.string().min(1).optional(),
  tests: z.array(z.unknown()).optional(),
});

/** A model file split into its validated header and its SELECT. */
export interface ParsedModelFile {
  readonly header: ModelHeader;
  /** The `name:` override, when given. */
  readonly name: string | undefined;
  readonly sql: string;
  readonly sqlOffset: number;
}

const LEADING_COMMENT = /^\s*\/\*([\s\S]*?)\*\//;

/**
 * Splits a model file into its YAML header (a leading `/* ... *\/` comment) and its
 * SELECT, and validates the header. A file without a header is a `full` model.
 * Any header problem is a `ConfigError` naming the file, the key and the line.
 */
export function parseModelFile(file: string, text: string): ParsedModelFile {
  const match = LEADING_COMMENT.exec(text);
  let raw: unknown = {};
  let sqlOffset = 0;
  if (match) {
    const yamlText = match[1] ?? '';
    const yamlOffset = match.index + match[0].indexOf('/*') + 2;
    sqlOffset = match.index + match[0].length;
    try {
      raw = parseYaml(yamlText) ?? {};
    } catch (error) {
      const line = error instanceof YAMLParseError && error.linePos?.[0] ? lineAt(text, yamlOffset) + error.linePos[0].line - 1 : undefined;
      throw new ConfigError(file, [{ path: line ? `line ${line}` : 'header', message: `the header is not valid YAML: ${(error as Error).message.split('\n')[0]}` }], { cause: error });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(file, [{ path: 'header', message: 'the header must be YAML key: value pairs' }]);
    }
  } else raw = { kind: 'full' };
  const result = HeaderSchema.safeParse(raw);
  if (!result.success) {
    const issues: ConfigIssue[] = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return { path: issue.keys.join(', '), message: `unknown header key (known: ${Object.keys(HeaderSchema.shape).join(', ')})` };
      }
      return { path: issue.path.map(String).join('.'), message: issue.message };
    });
    throw new ConfigError(file, issues);
  }
  const h = result.data;
  const list = (value: string | string[] | undefined): readonly string[] => Object.freeze(value === undefined ? [] : typeof value === 'string' ? [value] : [...value]);
  const header: ModelHeader = Object.freeze({
    kind: h.kind,
    partitionBy: list(h.partition_by),
    uniqueKey: list(h.unique_key),
    versionBy: h.version_by,
    deleteWhen: h.delete_when,
    lateness: h.lateness,
    owner: h.owner,
    freshness: h.freshness,
    tests: Object.freeze([...(h.tests ?? [])]),
  });
  let sql = text.slice(sqlOffset);
  const leading = sql.length - sql.trimStart().length;
  sqlOffset += leading;
  sql = sql.trim().replace(/;\s*$/, '').trimEnd();
  return { header, name: h.name, sql, sqlOffset };
}
