/**
 * Vitest global setup: starts s3rver on 127.0.0.1 (a free port, a temp directory) in a
 * child process and hands its endpoint to tests via `provide` (read it with the helpers
 * in test/helpers/s3.ts). The child runs `node --openssl-legacy-provider` because
 * s3rver's list continuation tokens (past 1,000 keys) use DES, which Node 20 refuses
 * otherwise. Also passes on an external endpoint (MinIO, ...) given by
 * LAKELOOP_TEST_S3_ENDPOINT (+ _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _REGION).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { TEST_CHECKPOINT_CACHE_DIR } from '../vitest.config.js';

/** An S3 endpoint tests may use, with its (test-only) credentials. */
export interface S3TestEndpoint {
  readonly name: 's3rver' | 'external';
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    lakeloopS3rver: S3TestEndpoint;
    lakeloopExternalS3: S3TestEndpoint | null;
  }
}

const STARTUP_TIMEOUT_MS = 20_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'lakeloop-s3rver-'));
  const script = fileURLToPath(new URL('./helpers/s3rver-process.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const port = await waitForPort(child);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswers(endpoint);
    project.provide('lakeloopS3rver', {
      name: 's3rver',
      endpoint,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    });
    project.provide('lakeloopExternalS3', externalEndpoint());
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return async () => {
    // The run's checkpoint cache (vitest.config.ts points LAKELOOP_CHECKPOINT_CACHE_DIR at it).
    await rm(TEST_CHECKPOINT_CACHE_DIR, { recursive: true, force: true });
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
}

function externalEndpoint(): S3TestEndpoint | null {
  const endpoint = process.env.LAKELOOP_TEST_S3_ENDPOINT;
  if (!endpoint) return null;
  return {
    name: 'external',
    endpoint,
    region: process.env.LAKELOOP_TEST_S3_REGION ?? 'us-east-1',
    accessKeyId: process.env.LAKELOOP_TEST_S3_ACCESS_KEY_ID ?? 'minioadmin',
    secretAccessKey: process.env.LAKELOOP_TEST_S3_SECRET_ACCESS_KEY ?? 'minioadmin',
    forcePathStyle: process.env.LAKELOOP_TEST_S3_FORCE_PATH_STYLE !== 'false',
  };
}

function waitForPort(child: ChildProcessWithoutNullStreams): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`)), STARTUP_TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /LISTENING (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on('exit', (code) => fail(new Error(`s3rver exited with code ${code}: ${stderr}`)));
    child.on('error', (error) => fail(error));
  });
}

async function waitUntilAnswers(endpoint: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const status = await new Promise<number | undefined>((resolve) => {
      const req = request(endpoint, { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.end();
    });
    if (status !== undefined) return;
    if (Date.now() > deadline) throw new Error(`s3rver at ${endpoint} does not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
