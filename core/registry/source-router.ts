import { D7yError } from '../errors/d7y-error.js';
import type { SourceClient } from '../contracts/source-client.js';

/** Routes a URL to the SourceClient of its scheme. A second client for one scheme is refused. */
export class SourceRouter {
  private readonly byScheme = new Map<string, { client: SourceClient; owner: string }>();

  add(client: SourceClient, owner = 'unknown'): void {
    if (client.schemes.length === 0) {
      throw new D7yError('D7Y_PLUGIN_INVALID', `source from ${owner} declares no URL schemes`, {
        fix: 'set `schemes` on the SourceClient, for example [\'s3\']',
      });
    }
    for (const raw of client.schemes) {
      const scheme = raw.toLowerCase();
      const existing = this.byScheme.get(scheme);
      if (existing) {
        throw new D7yError('D7Y_DUPLICATE_REGISTRATION',
          `scheme "${scheme}" is provided by both ${existing.owner} and ${owner}`, {
            fix: `disable one of them in plugins.json ("enabled": false)`,
          });
      }
    }
    for (const raw of client.schemes) this.byScheme.set(raw.toLowerCase(), { client, owner });
  }

  schemes(): string[] {
    return [...this.byScheme.keys()].sort();
  }

  ownerOf(scheme: string): string | undefined {
    return this.byScheme.get(scheme.toLowerCase())?.owner;
  }

  has(scheme: string): boolean {
    return this.byScheme.has(scheme.toLowerCase());
  }

  /** The client for the URL's scheme; D7Y_SOURCE_UNSUPPORTED_SCHEME lists the loaded schemes otherwise. */
  resolve(url: string): SourceClient {
    const scheme = schemeOf(url);
    const hit = this.byScheme.get(scheme);
    if (!hit) {
      const loaded = this.schemes();
      throw new D7yError('D7Y_SOURCE_UNSUPPORTED_SCHEME',
        `no source plugin handles "${scheme}://" URLs (loaded schemes: ${loaded.length ? loaded.join(', ') : 'none'})`, {
          fix: `add a source plugin for "${scheme}" with \`d7y plugin add <package>\`, or enable it in plugins.json`,
          details: { scheme, loaded },
        });
    }
    return hit.client;
  }
}

export function schemeOf(url: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!m) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${url}" is not a URL: it has no scheme`, {
      fix: 'give a full URL such as https://host/path or s3://bucket/key',
    });
  }
  return m[1].toLowerCase();
}
