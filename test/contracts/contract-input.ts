import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contractInputSql, contractSql, unknownFieldsSql, type Contract, type ContractSqlOptions } from '../../src/contracts/index.js';
import { Engine, quoteLiteral, type SqlRow } from '../../src/engine/index.js';

/**
 * A real DuckDB engine and a temp folder for one test file: records are written as an
 * NDJSON file and read back as raw lines, as the ingest path hands them to the contract.
 */
export class ContractBench {
  private count = 0;

  private constructor(
    readonly engine: Engine,
    private readonly dir: string,
  ) {}

  static async create(): Promise<ContractBench> {
    const dir = await mkdtemp(join(tmpdir(), 'lakeloop-contracts-'));
    return new ContractBench(await Engine.create({ threads: 1 }), dir);
  }

  /** A table `input_N` with `_line`, `_raw`, `_json` holding `lines` (objects are JSON-encoded). */
  async input(lines: readonly (string | object)[]): Promise<string> {
    const name = `input_${++this.count}`;
    const file = join(this.dir, `${name}.ndjson`);
    await writeFile(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    const raw = `(SELECT row_number() OVER () AS _line, _raw FROM read_csv(${quoteLiteral(file)}, columns={'_raw': 'VARCHAR'}, delim=chr(1), quote='', escape='', header=false))`;
    await this.engine.run(`CREATE TABLE ${name} AS ${contractInputSql(raw)}`);
    return name;
  }

  /** The contract's validation SQL over `lines`, one row per record in input order. */
  async check(contract: Contract, lines: readonly (string | object)[], options?: ContractSqlOptions): Promise<SqlRow[]> {
    const input = await this.input(lines);
    return this.engine.all(`SELECT * FROM (${contractSql(contract, input, options)}) ORDER BY _line`);
  }

  /** The reject reason and field of each record (null, null when valid). */
  async reasons(contract: Contract, lines: readonly (string | object)[]): Promise<[string | null, string | null][]> {
    const rows = await this.check(contract, lines);
    return rows.map((r) => [r['_reject_reason'] as string | null, r['_reject_field'] as string | null]);
  }

  async unknownFields(contract: Contract, lines: readonly (string | object)[], options?: ContractSqlOptions): Promise<SqlRow[]> {
    return this.engine.all(unknownFieldsSql(contract, await this.input(lines), options));
  }

  async close(): Promise<void> {
    await this.engine.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
