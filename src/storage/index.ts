export * from './object-store.js';
export * from './keys.js';
export * from './local-object-store.js';
