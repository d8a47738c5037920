import test from 'ava';
import { evaluatorContract } from '../../core/testing/evaluator-contract.js';
import { ThroughputEvaluator } from './throughput-evaluator.js';

evaluatorContract(test, { name: 'throughput', create: () => new ThroughputEvaluator() });
