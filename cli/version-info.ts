import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageDir, packageVersion } from './package-info.js';

/** What `d7y version` reports. `commit` is present only when the package folder is a git checkout. */
export interface VersionInfo {
  version: string;
  commit?: string;
  node: string;
  platform: string;
  arch: string;
}

const GIT_TIMEOUT_MS = 2000;

/** The commit checked out in the package folder; undefined when it is not a checkout or git fails. */
async function gitCommit(dir: string): Promise<string | undefined> {
  if (!existsSync(join(dir, '.git'))) return undefined;
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', dir, 'rev-parse', 'HEAD'], { timeout: GIT_TIMEOUT_MS });
    const commit = stdout.trim();
    return /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export async function versionInfo(): Promise<VersionInfo> {
  const commit = await gitCommit(packageDir);
  return {
    version: packageVersion(), ...(commit ? { commit } : {}), node: process.versions.node, platform: process.platform, arch: process.arch,
  };
}

/** `d7y version [--json]`. */
export async function printVersion(opts: { json?: boolean }): Promise<void> {
  const info = await versionInfo();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const rows = [['d7y', info.version], ...(info.commit ? [['commit', info.commit]] : []), ['node', info.node], ['platform', `${info.platform}/${info.arch}`]];
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(10)}${v}
`).join(''));
}
