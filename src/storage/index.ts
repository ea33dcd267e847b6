export * from './object-store.js';
export * from './keys.js';
export * from './local-object-store.js';
export * from './s3-object-store.js';
export * from './s3-location.js';
export * from './open-store.js';
