import test from 'ava';
import { evaluatorContract } from '../../core/testing/evaluator-contract.js';
import { LegacyEvaluator } from './legacy-evaluator.js';

evaluatorContract(test, { name: 'legacy', create: () => new LegacyEvaluator() });
