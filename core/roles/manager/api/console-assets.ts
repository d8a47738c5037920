import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { D7yError } from '../../../errors/d7y-error.js';

/** Where the build puts the console (`dist/console`, beside `dist/core`). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../../console/', import.meta.url));

/**
 * The console's Content-Security-Policy: its own scripts, styles and API only; no inline script,
 * no framing, no other origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

function secure(res: Response): void {
  res.set({ 'Content-Security-Policy': CONSOLE_CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
}

/**
 * Serves the web console's single page at `/` and its assets, every answer with the CSP above.
 * When the package was not built, `/` answers a 404 that says so.
 */
export function mountConsole(app: Express, dir = CONSOLE_DIR): void {
  const built = existsSync(`${dir}/index.html`);
  app.get('/', (_req: Request, res: Response, next: NextFunction) => {
    res.locals.route = '/';
    if (!built) {
      next(new D7yError('D7Y_NOT_FOUND', `the web console is not built (no ${dir}index.html)`, { fix: 'run npm run build in the d7y package' }));
      return;
    }
    secure(res);
    res.set('Cache-Control', 'no-cache').sendFile('index.html', { root: dir });
  });
  if (!built) return;
  app.use('/console', (_req: Request, res: Response, next: NextFunction) => {
    res.locals.route = '/console';
    secure(res);
    next();
  }, express.static(dir, { index: false, fallthrough: true, maxAge: '1h' }));
}
