import { loadContracts } from '../../contracts/index.js';
import { startConfiguredSources } from '../../ingest/index.js';
import { UsageError } from '../../core/index.js';
import { Collector } from '../../server/index.js';
import type { CommandContext } from '../command-context.js';
import { formatCount } from '../human.js';

export interface ServeOptions {
  readonly port?: string;
  readonly host?: string;
  readonly maxBodyBytes?: string;
  readonly instanceId?: string;
}

/**
 * `lakeloop serve`: runs the HTTP collector over the project's contracts until SIGINT or
 * SIGTERM, then stops accepting, commits the open batches, answers their requests and
 * returns (exit 0). Prints `listening on http://HOST:PORT` (the real port for `--port 0`)
 * and, on a terminal, live counters on stderr.
 */
export async function serveCommand(options: ServeOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const port = intOption('--port', options.port ?? '8080', 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes === undefined ? undefined : intOption('--max-body-bytes', options.maxBodyBytes, 1, Number.MAX_SAFE_INTEGER);
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  const session = await context.session();
  // Listen for SIGINT/SIGTERM before saying "listening": a signal that arrives right after
  // that line must stop the server gracefully, not kill it the default way.
  let onSignal: ((name: NodeJS.Signals) => void) | undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (name: NodeJS.Signals): void => {
      stopListening();
      resolve(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const stopListening = (): void => {
    if (!onSignal) return;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  context.onClose(async () => stopListening());
  const collector = await Collector.create({
    lake: session.lake,
    contracts,
    host,
    port,
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
  });
  const pulled = await startConfiguredSources({
    lake: session.lake,
    contracts,
    sources: config.sources,
    configFile: config.file,
    projectDir: config.projectDir,
    storeOptions: { s3: config.lake.s3, env: io.env },
    onEvent: (source, message) => io.stderr.write(`${source}: ${message}\n`),
  });
  const sources = [...contracts.keys()].sort();
  io.stdout.write(`listening on ${collector.url}\n`);
  io.stdout.write(`sources: ${sources.length ? sources.join(', ') : '(none: add contracts/<source>.ts)'}; instance ${collector.instanceId}\n`);
  context.verbose(`lake: ${config.lake.root}`);
  for (const line of pulled.descriptions) io.stdout.write(`${line}\n`);

  let ticker: NodeJS.Timeout | undefined;
  if (io.stderr.isTTY) {
    ticker = setInterval(() => {
      void collector.counters().then((counters) => {
        const parts = Object.entries(counters).map(
          ([source, c]) => `${source}: ${formatCount(c.landed)} landed, ${formatCount(c.quarantined)} quarantined, ${formatCount(c.duplicates)} dup, ${c.batches} batches`,
        );
        io.stderr.write(`\r\x1b[2K${parts.length ? parts.join(' | ') : 'waiting for requests'}`);
      });
    }, 1_000);
    ticker.unref();
  }

  const signal = await stopSignal;
  if (ticker) {
    clearInterval(ticker);
    io.stderr.write('\r\x1b[2K');
  }
  io.stdout.write(`${signal}: committing open batches…\n`);
  await pulled.stop();
  await collector.close();
  const counters = await collector.counters();
  for (const [source, c] of Object.entries(counters)) {
    io.stdout.write(`${source}: ${formatCount(c.landed)} landed, ${formatCount(c.quarantined)} quarantined, ${formatCount(c.duplicates)} duplicates, ${c.batches} batches\n`);
  }
  io.stdout.write('stopped\n');
}

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`${name} expects an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}
