import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { artifactDir, launchChromium } from '../support/browser.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

const MIB = 1024 * 1024;
const ROOT_PASSWORD = 'console-root-password-1';
const EXPERIMENT = {
  id: 'console-ab', bucketBy: 'task',
  variants: [{ name: 'control', evaluator: 'default', weight: 50 }, { name: 'treatment', evaluator: 'throughput', weight: 50 }],
};

/** Status of an open-API call made with a personal access token. */
async function oapiStatus(managerUrl: string, token: string): Promise<number> {
  const res = await fetch(`${managerUrl}/oapi/v1/jobs`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

test('the web console: sign in, create a token, preheat from the form onto the seed, see a task\'s holders, an experiment\'s chart and the dashboard, revoke the token', async (t) => {
  t.timeout(300_000);
  const files: Record<string, Buffer> = { '/model.bin': randomBytes(8 * MIB) };
  for (const name of ['a', 'b', 'c', 'd']) files[`/${name}.bin`] = randomBytes(6 * MIB);
  const origin = await startOriginServer(t, { files });
  const node = await startAllInOne(t, { manager: { rootPassword: ROOT_PASSWORD } });
  const shot = await artifactDir(t, 'console');
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The refused sign-in below is a 401 the browser logs; every other error counts.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) pageErrors.push(m.text()); });
  page.on('dialog', (d) => void d.accept());

  const first = await page.goto(`${node.managerUrl}/`);
  t.is(first?.status(), 200, 'the manager serves the console at /');
  const csp = first?.headers()['content-security-policy'] ?? '';
  t.regex(csp, /script-src 'self'/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval/, 'no inline script or eval is allowed');

  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText('wrong user name or password').waitFor();
  await shot(page, '01-sign-in-refused');
  await page.getByLabel('Password').fill(ROOT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  t.regex(await page.locator('nav .me').innerText(), /root\s+\(root, /, 'the signed-in user and role are shown');

  await page.goto(`${node.managerUrl}/#/tokens`);
  await page.getByLabel('Name').fill('console-e2e');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').locator('code').innerText()).trim();
  t.regex(token, /^d7y_/, 'the new token is shown once');
  await shot(page, '02-token-created');
  t.is(await oapiStatus(node.managerUrl, token), 200, 'the open API takes the new token');
  await page.getByRole('button', { name: 'Done' }).click();
  t.is(await page.getByTestId('new-token').count(), 0, 'the token is not shown again');

  await page.goto(`${node.managerUrl}/#/clusters`);
  await page.getByTestId('clusters').getByRole('link').first().click();
  await page.locator('textarea[name=config]').fill(JSON.stringify({ experiment: EXPERIMENT }, null, 2));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved: schedulers apply it').waitFor();
  await shot(page, '03-cluster-config');

  const modelUrl = origin.urlOf('/model.bin');
  await page.goto(`${node.managerUrl}/#/jobs`);
  await page.getByLabel('URLs').fill(modelUrl);
  await page.getByRole('button', { name: 'Preheat' }).click();
  const form = page.getByTestId('preheat-form');
  await form.getByTestId('job-state').getByText(/succeeded|failed/).waitFor({ timeout: 90_000 });
  t.is(await form.getByTestId('job-state').innerText(), 'succeeded', 'the preheat job succeeded');
  t.regex(await page.getByTestId('preheat-results').innerText(), /succeeded/);
  await shot(page, '04-preheat');
  const seedTasks = await runCli(['task', 'ls', '--json', '--socket', join(node.dataDir, 'seed-peer', 'peer.sock')]);
  t.is(seedTasks.code, 0, seedTasks.stderr);
  t.true(seedTasks.stdout.includes('/model.bin'), `the file landed on the seed peer: ${seedTasks.stdout.slice(0, 500)}`);
  t.is(origin.served.requests('/model.bin', 'GET') > 0, true);

  await new Promise((r) => setTimeout(r, 6000));
  for (const name of ['model', 'a', 'b', 'c', 'd']) {
    const get = await runCli(['get', origin.urlOf(`/${name}.bin`), '-O', join(node.dir, `${name}.bin`), '--socket', node.socket, '--no-progress'], { timeoutMs: 90_000 });
    t.is(get.code, 0, get.stderr);
  }

  await page.goto(`${node.managerUrl}/#/tasks`);
  await page.getByLabel('URL or task id').fill(modelUrl);
  await page.getByRole('button', { name: 'Find holders' }).click();
  const holders = page.getByTestId('holders');
  await holders.locator('tbody tr').nth(1).waitFor({ timeout: 60_000 });
  const holderText = await holders.innerText();
  t.is(await holders.locator('tbody tr').count(), 2, 'the seed peer and the peer hold the task');
  t.regex(holderText, /8\.0 MiB/, 'each holds the whole 8 MiB');
  await shot(page, '05-task-holders');

  await page.goto(`${node.managerUrl}/#/experiments`);
  const link = page.getByTestId('experiments').getByRole('link', { name: EXPERIMENT.id });
  for (let i = 0; i < 20 && (await link.count()) === 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    await page.reload();
  }
  await link.click();
  await page.getByTestId('experiment-chart').locator('canvas').waitFor();
  const arms = await page.getByTestId('arms').innerText();
  t.regex(arms, /control|treatment/, 'the report lists the arms');
  t.truthy(await page.getByTestId('verdict').innerText());
  await shot(page, '06-experiment');

  await page.goto(`${node.managerUrl}/#/dashboard`);
  await page.getByTestId('traffic-chart').locator('canvas').waitFor();
  t.true(Number(await page.getByTestId('fig-downloads').locator('.value').innerText()) >= 6, 'the dashboard counts the preheat and the five gets');
  await shot(page, '07-dashboard');

  for (const [hash, name] of [['nodes', '08-nodes'], ['users', '09-users'], ['tenants', '10-tenants']] as const) {
    await page.goto(`${node.managerUrl}/#/${hash}`);
    await page.locator('table').first().waitFor();
    await shot(page, name);
  }
  t.regex(await page.locator('body').innerText(), /default/);
  await page.goto(`${node.managerUrl}/#/nodes`);
  t.regex(await page.getByTestId('schedulers').innerText(), /active/, 'the scheduler is shown active');
  t.regex(await page.getByTestId('peers').innerText(), /seed/, 'the peers seen include the seed peer');

  await page.goto(`${node.managerUrl}/#/audit`);
  await page.getByLabel('Path prefix').fill('/api/v1/personal-access-tokens');
  await page.getByLabel('Method').selectOption('POST');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByTestId('audits').getByText('POST /api/v1/personal-access-tokens').first().waitFor();
  t.notRegex(await page.getByTestId('audits').innerText(), /GET /, 'the filter keeps only the token creations');
  await shot(page, '11-audit');

  await page.goto(`${node.managerUrl}/#/tokens`);
  await page.getByTestId('revoke-console-e2e').click();
  await page.getByTestId('revoke-console-e2e').waitFor({ state: 'detached' });
  await shot(page, '12-token-revoked');
  t.is(await oapiStatus(node.managerUrl, token), 401, 'the API refuses the revoked token');
  t.deepEqual(pageErrors, [], 'no script error and no CSP violation in the page');
});
