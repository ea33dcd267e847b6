/**
 * Models (SPEC §6): SQL files with a YAML header (`loadModels`), their dependencies found
 * with DuckDB's parser and ordered into a DAG (`resolveModels`), and the lineage graph.
 */
export {
  DATA_TEST_KINDS,
  type CustomSqlTestSpec,
  type DataTest,
  type DataTestSeverity,
  type DataTestSpec,
  lineAt,
  MODEL_KINDS, MODEL_LAYERS, ModelError, type CompletenessObjective, type Model, type ModelDefinition, type ModelHeader, type ModelKind } from './model.js';
export { embeddableSql } from './embeddable-sql.js';
export { parseModelFile, type ParsedModelFile } from './model-header.js';
export { loadModels, MODELS_DIR } from './load-models.js';
export { resolveModels, testInputsOf, withDownstream, type ModelDag, type ResolveOptions } from './model-dag.js';
export { parseSelector, recomputeSelection, resolveSelectors, type Selection, type Selector, type UnknownSelector } from './model-selector.js';
export { attachCustomTests, CUSTOM_TESTS_DIR, loadCustomTests, parseCustomTest, type CustomSqlTest } from './custom-tests.js';
export { lineageGraph, type LineageEdge, type LineageGraph, type LineageNode, type LineageGraphOptions } from './lineage.js';
export {
  modelFingerprint,
  modelVersionOf,
  modelVersionRecord,
  normalizeSql,
  publishedDefinition,
  rowHeaderOf,
  type ModelVersionRecord,
  type RowHeader,
} from './model-fingerprint.js';
