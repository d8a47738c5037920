import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { D7yError } from '../core/index.js';
import { packageNameFor } from './plugin-resolver.js';

const run = promisify(execFile);
const NPM_TIMEOUT_MS = 5 * 60_000;
const NPM_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** What `d7y plugin add <spec>` was given, and the npm package it means. */
export interface PackageSpec {
  kind: 'npm' | 'directory' | 'tarball';
  /** What npm install is given: a registry spec or an absolute path. */
  installSpec: string;
  packageName: string;
}

async function readTarballPackageName(file: string): Promise<string> {
  try {
    const { stdout } = await run('tar', ['-xzOf', file, 'package/package.json'], { timeout: 30_000, maxBuffer: 4 << 20 });
    const name = (JSON.parse(stdout) as { name?: string }).name;
    if (name) return name;
  } catch (err) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `${file} is not an npm package tarball (no package/package.json inside)`, {
      fix: 'create the tarball with `npm pack` in the plugin\'s directory', cause: err,
    });
  }
  throw new D7yError('D7Y_INVALID_ARGUMENT', `${file}: its package.json has no "name"`, { fix: 'give the plugin package a name' });
}

/** Parses an npm name (`foo` means `d7y-plugin-foo`), a directory or a tarball path. */
export async function parsePackageSpec(spec: string): Promise<PackageSpec> {
  const asPath = resolve(spec);
  const looksLikePath = spec.startsWith('.') || spec.startsWith('/') || /\.(tgz|tar\.gz)$/.test(spec);
  if (looksLikePath || existsSync(asPath)) {
    if (!existsSync(asPath)) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${spec}: no such file or directory`, {
        fix: 'give the path of a plugin directory or of a tarball made by `npm pack`, or an npm package name',
      });
    }
    if (statSync(asPath).isDirectory()) {
      const pj = join(asPath, 'package.json');
      if (!existsSync(pj)) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `${spec} has no package.json, so it is not an npm package`, {
          fix: 'point at the plugin package\'s root directory (the one with package.json)',
        });
      }
      const name = (JSON.parse(await readFile(pj, 'utf8')) as { name?: string }).name;
      if (!name) throw new D7yError('D7Y_INVALID_ARGUMENT', `${pj} has no "name"`, { fix: 'give the plugin package a name' });
      return { kind: 'directory', installSpec: asPath, packageName: name };
    }
    return { kind: 'tarball', installSpec: asPath, packageName: await readTarballPackageName(asPath) };
  }
  const at = spec.lastIndexOf('@');
  const bare = at > 0 ? spec.slice(0, at) : spec;
  const version = at > 0 ? spec.slice(at) : '';
  if (!NPM_NAME.test(bare)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${spec}" is not a valid npm package name`, {
      fix: 'use a name such as d7y-plugin-foo, foo (meaning d7y-plugin-foo), @scope/name, or a path to a tarball',
    });
  }
  const packageName = packageNameFor(bare);
  return { kind: 'npm', installSpec: `${packageName}${version}`, packageName };
}

async function ensurePluginDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pj = join(dir, 'package.json');
  if (!existsSync(pj)) {
    await writeFile(pj, `${JSON.stringify({ name: 'd7y-installed-plugins', private: true, dependencies: {} }, null, 2)}\n`);
  }
}

/** Dependencies recorded in the plugin directory's package.json. */
export async function installedPackages(dir: string): Promise<Record<string, string>> {
  try {
    return (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  } catch {
    return {};
  }
}

function npmFailure(action: string, spec: string, err: unknown): D7yError {
  const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message ?? err);
  const line = stderr.split('\n').find((l) => /npm (error|ERR!)/.test(l) && !/A complete log/.test(l)) ?? stderr.split('\n')[0];
  return new D7yError('D7Y_PLUGIN_INSTALL_FAILED', `npm could not ${action} ${spec}: ${line.replace(/^npm (error|ERR!)\s*/, '').trim()}`, {
    fix: /E404|404/.test(stderr) ? 'check the package name (is it published?), or give a path to a tarball' : 'check the package and your npm registry access, then try again',
    cause: err,
  });
}

/** `npm install` into the plugin directory. */
export async function installPackage(dir: string, spec: PackageSpec): Promise<void> {
  await ensurePluginDir(dir);
  try {
    await run('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--omit=dev', '--save', spec.installSpec],
      { timeout: NPM_TIMEOUT_MS, maxBuffer: 16 << 20, env: { ...process.env, npm_config_loglevel: 'error' } });
  } catch (err) {
    throw npmFailure('install', spec.installSpec, err);
  }
}

/** `npm uninstall` from the plugin directory. */
export async function uninstallPackage(dir: string, packageName: string): Promise<void> {
  try {
    await run('npm', ['uninstall', '--prefix', dir, '--no-audit', '--no-fund', packageName],
      { timeout: NPM_TIMEOUT_MS, maxBuffer: 16 << 20, env: { ...process.env, npm_config_loglevel: 'error' } });
  } catch (err) {
    throw npmFailure('uninstall', packageName, err);
  }
}
