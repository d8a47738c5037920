/**
 * `d7y/plugin`: what a plugin author needs — `definePlugin`, the contracts a plugin implements,
 * the helpers sources share, and the contract suites every plugin of a kind must pass
 * (they take ava's `test` function).
 */
export * from '../core/index.js';
export { sourceClientContract } from '../core/testing/source-client-contract.js';
export type { SourceClientContractOptions, SourceClientFixture } from '../core/testing/source-client-contract.js';
export { evaluatorContract } from '../core/testing/evaluator-contract.js';
export type { EvaluatorContractOptions } from '../core/testing/evaluator-contract.js';
export { storageMediumContract } from '../core/testing/storage-medium-contract.js';
export type { StorageMediumContractOptions, StorageMediumFactory } from '../core/testing/storage-medium-contract.js';
