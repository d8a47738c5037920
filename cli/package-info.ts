import { fileURLToPath } from 'node:url';

/** The folder of the d7y package (the one holding package.json), from dist/cli/. */
export const packageDir = fileURLToPath(new URL('../../', import.meta.url));

export { packageVersion } from '../core/config/package-version.js';
