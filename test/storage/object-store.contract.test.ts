import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { createTestBucket, externalTestEndpoint, s3rverTestEndpoint, type S3TestEndpoint } from '../helpers/s3.js';
import { describeObjectStoreContract, type ContractFactoryOptions, type ContractSubject } from './object-store-contract.js';

const MiB = 1024 * 1024;

describeObjectStoreContract(
  'LocalObjectStore',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakeloop-local-store-'));
    const store = await LocalObjectStore.create(join(dir, 'lake'));
    return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  { expectConditionalWrites: true, atomicOverwrite: true },
);

function s3Factory(target: () => S3TestEndpoint) {
  return async (options: ContractFactoryOptions = {}): Promise<ContractSubject> => {
    const bucket = await createTestBucket('contract', target());
    // A prefix, so the suite also checks that keys map in and out of it.
    const store = await S3ObjectStore.create({
      ...bucket.options,
      prefix: 'lake/root',
      ...(options.smallMultipart ? { multipartThresholdBytes: 5 * MiB, multipartPartBytes: 5 * MiB } : {}),
    });
    return {
      store,
      async cleanup() {
        await store.close();
        await bucket.cleanup();
      },
    };
  };
}

// s3rver ignores If-None-Match, so the probe must find conditional writes unenforced; and
// it rewrites objects in place, so reads are not raced against overwrites there.
describeObjectStoreContract('S3ObjectStore on s3rver', s3Factory(s3rverTestEndpoint), {
  expectConditionalWrites: false,
  atomicOverwrite: false,
});

const external = externalTestEndpoint();
if (external) {
  describeObjectStoreContract(`S3ObjectStore on ${external.endpoint}`, s3Factory(() => external), {
    expectConditionalWrites: undefined,
    atomicOverwrite: true,
  });
}
