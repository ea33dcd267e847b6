export * from './object-store.js';
export * from './keys.js';
export * from './local-object-store.js';
export * from './process-temp.js';
// The S3 store is loaded on demand (openObjectStore imports it for s3:// roots), so a
// local lake never pays for loading the AWS SDK. Import the class itself from
// './s3-object-store.js' inside src/storage, or in tests.
export type { S3ConnectionOptions, S3Credentials, S3RetryEvent, S3StoreOptions } from './s3-object-store.js';
export * from './s3-location.js';
export * from './open-store.js';
