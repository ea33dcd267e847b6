import { systemClock, TableNotFound, UsageError, type Clock } from '../core/index.js';
import type { AddAction } from './actions.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent } from '../engine/index.js';
import { singleWriterNotice, type ObjectStore } from '../storage/index.js';
import type { CheckpointCache } from './checkpoint-cache.js';
import { DeltaTable, type CreateTableOptions } from './delta-table.js';
import type { SnapshotSelector } from './log-reader.js';
import { hasDeltaLog } from './log-files.js';
import type { Snapshot } from './snapshot.js';

/** The lake's layers: each is a key prefix holding one folder per table. */
export const LAYERS = ['bronze', 'silver', 'gold', 'quarantine'] as const;

/** One of `LAYERS`. */
export type Layer = (typeof LAYERS)[number];

/** How to open a lake. */
export interface LakeOptions {
  readonly store: ObjectStore;
  readonly engine: Engine;
  readonly clock?: Clock;
  /** Checkpoint interval for every table (default 10). */
  readonly checkpointInterval?: number;
  /** Told once, at open, when the store does not enforce conditional writes (run a single writer). */
  readonly onNotice?: (message: string) => void;
  /** The tables' checkpoint cache (default: `CheckpointCache.fromEnv()` of the process; null: none). */
  readonly checkpointCache?: CheckpointCache | null;
  /** How many commit summaries each table's handle keeps (default `REMEMBERED_COMMITS`). */
  readonly rememberedCommits?: number;
}

const NAME = /^([a-z]+)\.([A-Za-z0-9_][A-Za-z0-9_-]*)$/;

/**
 * The lake: table names ↔ locations (`bronze.orders` lives under `bronze/orders/`), table
 * discovery, creation, and DuckDB views over consistent snapshots.
 *
 * @example
 * const lake = await Lake.open({ store, engine });
 * const orders = await lake.table('bronze.orders');
 * await lake.bindViews(engine, ['bronze.orders']); // SELECT * FROM bronze.orders
 */
export class Lake {
  private readonly handles = new Map<string, DeltaTable>();

  private constructor(
    readonly store: ObjectStore,
    readonly engine: Engine,
    /** false when the store does not enforce put-if-absent: run one writer only (SPEC §4). */
    readonly conditionalWrites: boolean,
    private readonly clock: Clock | undefined,
    private readonly checkpointInterval: number | undefined,
    private readonly checkpointCache: CheckpointCache | null | undefined,
    private readonly rememberedCommits: number | undefined,
  ) {}

  static async open(options: LakeOptions): Promise<Lake> {
    const conditional = await options.store.conditionalWrites();
    if (!conditional) options.onNotice?.(singleWriterNotice(options.store.description));
    return new Lake(options.store, options.engine, conditional, options.clock, options.checkpointInterval, options.checkpointCache, options.rememberedCommits);
  }

  /** The key prefix of a table (`bronze.orders` → `bronze/orders`); throws `UsageError` for a malformed name. */
  static pathOf(name: string): string {
    const match = NAME.exec(name);
    const layer = match?.[1];
    if (!match || !layer || !(LAYERS as readonly string[]).includes(layer)) {
      throw new UsageError(
        `Table name ${JSON.stringify(name)} is not <layer>.<name>`,
        `Use one of the layers ${LAYERS.join(', ')} and a name of letters, digits, '_' or '-', e.g. bronze.orders.`,
      );
    }
    return `${layer}/${match[2]}`;
  }

  /**
   * Every table (`layer.name`) that has a `_delta_log`, sorted. Costs, per layer, one
   * listing per folder (`ObjectStore.listPrefixes`) and a HEAD or two per folder, the
   * layers and the HEADs concurrently; never a listing of the tables' data files.
   */
  async tables(): Promise<string[]> {
    const perLayer = await Promise.all(
      LAYERS.map(async (layer) => {
        const folders = await this.store.listPrefixes(`${layer}/`);
        const paths = folders.map((folder) => folder.replace(/\/$/, ''));
        const isTable = await Promise.all(paths.map((path) => hasDeltaLog(this.store, path)));
        return paths.filter((_, i) => isTable[i]).map((path) => `${layer}.${path.slice(layer.length + 1)}`);
      }),
    );
    return perLayer.flat().sort();
  }

  /** An existing table; `TableNotFound` (naming it) when it has no `_delta_log`. */
  async table(name: string): Promise<DeltaTable> {
    const cached = this.handles.get(name);
    if (cached) return cached;
    const table = await DeltaTable.open(this.store, Lake.pathOf(name), this.tableOptions(name));
    this.handles.set(name, table);
    return table;
  }

  /** The table, or undefined when it does not exist yet (a model before its first run). */
  async tableIfExists(name: string): Promise<DeltaTable | undefined> {
    try {
      return await this.table(name);
    } catch (error) {
      if (error instanceof TableNotFound) return undefined;
      throw error;
    }
  }

  async createTable(name: string, options: CreateTableOptions): Promise<DeltaTable> {
    const table = await DeltaTable.create(this.store, Lake.pathOf(name), { ...this.tableOptions(name), ...options });
    this.handles.set(name, table);
    return table;
  }

  /**
   * Binds each table as a DuckDB view `layer.name` over exactly the live files of its
   * snapshot (`at` selects one version or time for all of them), and returns those snapshots.
   */
  async bindViews(engine: Engine, names: readonly string[], at?: SnapshotSelector): Promise<Map<string, Snapshot>> {
    const bound = new Map<string, Snapshot>();
    for (const name of names) {
      const snapshot = await (await this.table(name)).snapshot(at);
      await this.bindView(engine, name, snapshot);
      bound.set(name, snapshot);
    }
    return bound;
  }

  /** Binds one view `layer.name` over a snapshot's live files, or over `only` some of them (a pruned input). */
  async bindView(engine: Engine, name: string, snapshot: Snapshot, only?: readonly AddAction[]): Promise<void> {
    const path = Lake.pathOf(name);
    const [layer, table] = [path.slice(0, path.indexOf('/')), path.slice(path.indexOf('/') + 1)];
    const sql = await snapshot.scanSql(this.store, only);
    await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(layer)}`);
    await engine.run(`CREATE OR REPLACE VIEW ${quoteIdent(layer)}.${quoteIdent(table)} AS ${sql}`);
  }

  /** The lake's clock, in epoch milliseconds (a test's ManualClock, else the system's). */
  nowMs(): number {
    return (this.clock ?? systemClock).nowMs();
  }

  /** A handle on the same lake whose tables read and write through another DuckDB instance (a separate circuit). */
  withEngine(engine: Engine): Lake {
    return new Lake(this.store, engine, this.conditionalWrites, this.clock, this.checkpointInterval, this.checkpointCache, this.rememberedCommits);
  }

  private tableOptions(name: string): { engine: Engine; name: string; clock?: Clock; checkpointInterval?: number; checkpointCache?: CheckpointCache | null; rememberedCommits?: number } {
    return {
      engine: this.engine,
      name,
      ...(this.rememberedCommits !== undefined ? { rememberedCommits: this.rememberedCommits } : {}),
      ...(this.checkpointCache !== undefined ? { checkpointCache: this.checkpointCache } : {}),
      ...(this.clock ? { clock: this.clock } : {}),
      ...(this.checkpointInterval !== undefined ? { checkpointInterval: this.checkpointInterval } : {}),
    };
  }
}
