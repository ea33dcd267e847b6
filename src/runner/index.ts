/** The runner: executes models in DAG order against the lake (SPEC §6). */
export { runModels, type ModelRunSummary, type RunModelsOptions } from './run-models.js';
