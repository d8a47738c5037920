import { definePlugin } from '../../core/index.js';
import { ThroughputEvaluator } from './throughput-evaluator.js';

export { ThroughputEvaluator } from './throughput-evaluator.js';

/** The `throughput` evaluator: expected per-download rate × locality × reliability. */
export default definePlugin({
  manifest: {
    name: 'throughput',
    version: '0.1.0',
    kind: 'evaluator',
    apiVersion: '1',
    roles: ['scheduler'],
    provides: ['evaluator:throughput'],
    description: 'ranks parents by the piece rate a child can expect (spare bandwidth per upload, observed speed), scaled by locality',
  },
  register(ctx) {
    ctx.evaluators.add(new ThroughputEvaluator());
  },
});
