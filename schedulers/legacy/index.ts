import { definePlugin } from '../../core/index.js';
import { LegacyEvaluator } from './legacy-evaluator.js';

export { LegacyEvaluator, LEGACY_WEIGHTS } from './legacy-evaluator.js';

/** The `legacy` evaluator: Dragonfly ≤ v2.3's weighted parent ranking. */
export default definePlugin({
  manifest: {
    name: 'legacy',
    version: '0.1.0',
    kind: 'evaluator',
    apiVersion: '1',
    roles: ['scheduler'],
    provides: ['evaluator:legacy'],
    description: 'Dragonfly ≤ v2.3 ranking (finished pieces, upload success, free slots, host type, IDC, location)',
  },
  register(ctx) {
    ctx.evaluators.add(new LegacyEvaluator());
  },
});
