export * from './engine.js';
export * from './literal-path.js';
