// Where a write's time goes: engine statements and store calls timed by kind, for the
// collector benchmark and the per-batch cost scripts (bench/batch-cost.ts, bench/collector-batch-cost.ts).

/** Milliseconds spent per kind of engine statement or store call (sums of concurrent calls can exceed wall time). */
export class Breakdown {
  readonly spent = new Map<string, number>();
  /** Process CPU ms during each kind's calls (DuckDB's threads included; what else ran meanwhile too). */
  readonly cpu = new Map<string, number>();

  add(kind: string, ms: number, cpuMs: number): void {
    this.spent.set(kind, (this.spent.get(kind) ?? 0) + ms);
    this.cpu.set(kind, (this.cpu.get(kind) ?? 0) + cpuMs);
  }

  clear(): void {
    this.spent.clear();
    this.cpu.clear();
  }

  /** `target` with each async method named by `kindOf` timed into this breakdown. */
  proxy<T extends object>(target: T, kindOf: (method: string, args: unknown[]) => string | undefined): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const kind = kindOf(String(property), args);
          const started = performance.now();
          const cpu = process.cpuUsage();
          const result = (value as (...a: unknown[]) => unknown).apply(object, args);
          if (kind === undefined || !(result instanceof Promise)) return result;
          return result.finally(() => {
            const used = process.cpuUsage(cpu);
            this.add(kind, performance.now() - started, (used.user + used.system) / 1000);
          });
        };
      },
    });
  }
}

export function sqlKind(method: string, args: unknown[]): string | undefined {
  if (method === 'copyToParquet') return 'sql: checkpoint write';
  if (!['run', 'all', 'scalar', 'describe', 'table'].includes(method)) return undefined;
  const sql = String(args[0]);
  if (method === 'describe') return sql.includes('read_ndjson') ? 'sql: detect fields (reader describe)' : 'sql: describe (cast plan)';
  if (/__ll_typed/.test(sql) && /^CREATE/.test(sql)) return 'sql: read + contract check (fast path)';
  if (/read_csv|read_ndjson/.test(sql) && /^CREATE/.test(sql)) return 'sql: load raw lines (temp table)';
  if (/_checked/.test(sql) && /^CREATE/.test(sql)) return 'sql: contract check (temp table)';
  if (/^COPY/.test(sql) && /_delta_log|checkpoint/.test(sql)) return 'sql: checkpoint write';
  if (/^COPY/.test(sql)) return 'sql: write parquet (partitioned COPY)';
  if (/^DROP/.test(sql)) return 'sql: drop temp tables';
  if (/count\(\*\)/.test(sql)) return 'sql: counts';
  return 'sql: other';
}

export function storeKind(method: string, args: unknown[]): string | undefined {
  const key = String(args[0] ?? '');
  if (method === 'putFile') return key.includes('_delta_log') ? 'store: checkpoint put' : 'store: data files (move + fsync)';
  if (method === 'putFiles') return 'store: data files (move + fsync)';
  if (method === 'putIfAbsent') return 'store: log commit (put-if-absent)';
  if (method === 'put') return key.includes('checkpoint') ? 'store: checkpoint put' : 'store: put';
  if (['get', 'getIfExists', 'getRange'].includes(method)) return 'store: log reads (get)';
  if (['list', 'listAll', 'listPrefixes'].includes(method)) return 'store: log listings';
  if (method === 'head') return 'store: head';
  return undefined;
}
