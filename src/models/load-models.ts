import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../core/index.js';
import { MODEL_LAYERS, type ModelDefinition } from './model.js';
import { parseModelFile } from './model-header.js';
import { attachCustomTests, loadCustomTests } from './custom-tests.js';

/** Where a project keeps its models, relative to the project folder. */
export const MODELS_DIR = 'sql';

const MODEL_FILE = /^([A-Za-z0-9_][A-Za-z0-9_-]*)\.sql$/;

/**
 * Reads every model of a project (`sql/silver/*.sql`, `sql/gold/*.sql`), sorted by name, with
 * the custom SQL tests of `tests/*.sql` appended to the tests of the models they name.
 * A missing folder has no models. Header problems and two files defining one name are
 * `ConfigError`s naming the file.
 *
 * @example
 * const models = await loadModels('/repo'); // [{ name: 'gold.daily_revenue', ... }, { name: 'silver.orders', ... }]
 */
export async function loadModels(projectDir: string): Promise<ModelDefinition[]> {
  const root = resolve(projectDir, MODELS_DIR);
  const byName = new Map<string, ModelDefinition>();
  for (const layer of MODEL_LAYERS) {
    const dir = join(root, layer);
    const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
      throw new ConfigError(dir, [{ path: '', message: `cannot read the folder: ${error.message}` }], { cause: error });
    });
    for (const entry of entries.sort()) {
      const match = MODEL_FILE.exec(entry);
      if (!match) continue;
      const file = join(dir, entry);
      const text = await readFile(file, 'utf8');
      const parsed = parseModelFile(file, text);
      const name = parsed.name === undefined ? `${layer}.${match[1]}` : parsed.name.includes('.') ? parsed.name : `${layer}.${parsed.name}`;
      if (!(MODEL_LAYERS as readonly string[]).includes(name.slice(0, name.indexOf('.')))) {
        throw new ConfigError(file, [{ path: 'name', message: `${name} is not in a model layer (${MODEL_LAYERS.join(', ')})` }]);
      }
      const other = byName.get(name);
      if (other) throw new ConfigError(file, [{ path: 'name', message: `model ${name} is also defined by ${other.file}` }]);
      byName.set(name, Object.freeze({ name, file, header: parsed.header, sql: parsed.sql, sqlOffset: parsed.sqlOffset, text }));
    }
  }
  const models = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return attachCustomTests(models, await loadCustomTests(projectDir));
}
