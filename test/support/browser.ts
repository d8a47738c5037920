import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './env.js';

/** Debian's chromium (scripts/test-deps.txt installs it); playwright's own browsers are never downloaded. */
export const CHROMIUM = process.env.D7Y_CHROMIUM ?? '/usr/bin/chromium';

/** Headless chromium, closed in teardown. */
export async function launchChromium(t: ExecutionContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  return browser;
}

/** A directory for a test's screenshots under test-artifacts/ (git-ignored), printed in the test's log. */
export async function artifactDir(t: ExecutionContext, name: string): Promise<(page: Page, shot: string) => Promise<void>> {
  const dir = join(repoRoot, 'test-artifacts', name);
  await mkdir(dir, { recursive: true });
  t.log(`screenshots in ${dir}`);
  return async (page, shot) => {
    await page.screenshot({ path: join(dir, `${shot}.png`), fullPage: true });
  };
}
