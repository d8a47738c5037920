import { D7yError } from '../errors/d7y-error.js';
import type { Evaluator } from '../contracts/evaluator.js';

/** Evaluators by name. A second evaluator with one name is refused. */
export class EvaluatorRegistry {
  private readonly byName = new Map<string, { evaluator: Evaluator; owner: string }>();

  add(evaluator: Evaluator, owner = 'unknown'): void {
    const existing = this.byName.get(evaluator.name);
    if (existing) {
      throw new D7yError('D7Y_DUPLICATE_REGISTRATION',
        `evaluator "${evaluator.name}" is provided by both ${existing.owner} and ${owner}`, {
          fix: 'disable one of them in plugins.json ("enabled": false)',
        });
    }
    this.byName.set(evaluator.name, { evaluator, owner });
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): Evaluator {
    const hit = this.byName.get(name);
    if (!hit) {
      throw new D7yError('D7Y_PLUGIN_NOT_FOUND', `no evaluator named "${name}" is loaded (loaded: ${this.names().join(', ') || 'none'})`, {
        fix: 'add the evaluator plugin to plugins.json, or name a loaded one',
      });
    }
    return hit.evaluator;
  }
}
