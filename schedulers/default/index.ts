import { definePlugin } from '../../core/index.js';
import { DefaultEvaluator } from './default-evaluator.js';

export { DefaultEvaluator } from './default-evaluator.js';

/** The `default` evaluator: Dragonfly's load-aware parent ranking. */
export default definePlugin({
  manifest: {
    name: 'default',
    version: '0.1.0',
    kind: 'evaluator',
    apiVersion: '1',
    roles: ['scheduler'],
    provides: ['evaluator:default'],
    description: 'load-aware parent ranking (bandwidth, concurrency, IDC, location, host type)',
  },
  register(ctx) {
    ctx.evaluators.add(new DefaultEvaluator());
  },
});
