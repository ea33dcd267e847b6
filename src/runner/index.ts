/** The runner: executes models in DAG order against the lake (SPEC §6). */
export { runModels, type ModelFailure, type ModelOutcome, type ModelRunSummary, type RunModelsOptions, type RunResult } from './run-models.js';
export { DataTestFailed, failingRowsSql, relationOf, runDataTests, SAMPLE_ROWS, testInputs, type DataTestOptions, type DataTestResult } from './data-tests.js';
export { createModelTable, keyDedupSql, NULL_PARTITION, userSql } from './model-sql.js';
export { CostMeter, type ModelCost } from './run-cost.js';
export { estimateRecomputeScan, estimateScan, type RecomputeWindow, type ScanEstimate, type ScanEstimateOptions } from './scan-estimate.js';
export { checkScanBudget, type ScanBudgetCheck, type ScanBudgetSubject } from './scan-budget.js';
export { applyPlan, type ApplyPlanOptions, type ApplyResult } from './apply-plan.js';
