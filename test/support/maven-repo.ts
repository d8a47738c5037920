import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { cachedFixture } from './artifact-fixture.js';
import { tmpDir } from './env.js';
import { startStaticRepoServer, type StaticRepoServer } from './static-repo-server.js';

export interface MavenRepo extends StaticRepoServer {
  /** The repository's directory (a private copy: tests may change files in it). */
  readonly dir: string;
}

/**
 * Serves a private copy of the Maven repository built by test/fixtures/artifacts/build-maven-repo.sh
 * (`mvn deploy-file`: org.d7y.fixture:tiny 1.0.0 + sources, 1.1.0, 2.0-SNAPSHOT × 3) over HTTP on 127.0.0.1.
 */
export async function startMavenRepo(t: ExecutionContext, opts: { users?: Record<string, string> } = {}): Promise<MavenRepo> {
  const fixture = await cachedFixture('build-maven-repo.sh', 240_000);
  const dir = join(await tmpDir(t, 'd7y-maven-'), 'repo');
  await cp(join(fixture, 'repo'), dir, { recursive: true });
  const server = await startStaticRepoServer(t, { dir, users: opts.users });
  return { ...server, requests: server.requests, dir };
}
