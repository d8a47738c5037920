import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { repoRoot, tmpDir } from './env.js';

export const fixturePluginsDir = join(repoRoot, 'test/fixtures/plugins');

/** A temp dir with a plugin directory holding the named fixture packages, and a plugins.json. */
export async function pluginSandbox(t: ExecutionContext, fixtures: string[], pluginsJson: unknown): Promise<{ dir: string; pluginDir: string; pluginsFile: string; args: string[] }> {
  const dir = await tmpDir(t);
  const pluginDir = join(dir, 'plugins');
  for (const name of fixtures) {
    await mkdir(join(pluginDir, 'node_modules'), { recursive: true });
    await cp(join(fixturePluginsDir, name), join(pluginDir, 'node_modules', `d7y-plugin-${name}`), { recursive: true });
  }
  const pluginsFile = join(dir, 'plugins.json');
  await writeFile(pluginsFile, JSON.stringify(pluginsJson, null, 2));
  return { dir, pluginDir, pluginsFile, args: ['--plugins-file', pluginsFile, '--plugin-dir', pluginDir] };
}
