import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder of the d7y package (the one holding package.json), from dist/cli/. */
export const packageDir = fileURLToPath(new URL('../../', import.meta.url));

/** The `version` of d7y's package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
