import test from 'ava';
import { evaluatorContract } from '../../core/testing/evaluator-contract.js';
import { DefaultEvaluator } from './default-evaluator.js';

evaluatorContract(test, { name: 'default', create: () => new DefaultEvaluator() });
