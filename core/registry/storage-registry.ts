import { D7yError } from '../errors/d7y-error.js';
import type { StorageMedium } from '../contracts/storage-medium.js';

/** Storage media by name. A second medium with one name is refused. */
export class StorageRegistry {
  private readonly byName = new Map<string, { medium: StorageMedium; owner: string }>();

  add(medium: StorageMedium, owner = 'unknown'): void {
    const existing = this.byName.get(medium.name);
    if (existing) {
      throw new D7yError('D7Y_DUPLICATE_REGISTRATION',
        `storage medium "${medium.name}" is provided by both ${existing.owner} and ${owner}`, {
          fix: 'disable one of them in plugins.json ("enabled": false)',
        });
    }
    this.byName.set(medium.name, { medium, owner });
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): StorageMedium {
    const hit = this.byName.get(name);
    if (!hit) {
      throw new D7yError('D7Y_MISSING_DEPENDENCY', `storage medium "${name}" is not loaded (loaded: ${this.names().join(', ') || 'none'})`, {
        fix: `enable the "${name}" storage plugin for this role in plugins.json`,
      });
    }
    return hit.medium;
  }
}
