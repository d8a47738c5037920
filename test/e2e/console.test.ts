import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { artifactDir, launchChromium } from '../support/browser.js';
import { repoRoot } from '../support/env.js';
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

/** What `d7y cache stat --json` says of a persistent-cache task on the node. */
interface LocalCacheTask { taskId: string; pieceCount: number; holders?: { hostname: string; ip: string }[] }

test('the web console: sign in, create a token, preheat from the form onto the seed, see a task\'s holders, an experiment\'s chart and the dashboard, revoke the token, see a persistent-cache task with its holder and delete it', async (t) => {
  t.timeout(300_000);
  const files: Record<string, Buffer> = { '/model.bin': randomBytes(8 * MIB) };
  for (const name of ['a', 'b', 'c', 'd']) files[`/${name}.bin`] = randomBytes(6 * MIB);
  const origin = await startOriginServer(t, { files });
  const node = await startAllInOne(t, { manager: { rootPassword: ROOT_PASSWORD, webhooks: { allowedHosts: ['127.0.0.1'] } } });
  const cacheFile = join(node.dir, 'checkpoint.bin');
  await writeFile(cacheFile, randomBytes(5 * MIB));
  const imported = await runCli(['cache', 'import', cacheFile, '--replicas', '1', '--ttl', '1h', '--socket', node.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(imported.code, 0, imported.stderr);
  const cacheId = imported.stdout.trim();
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
  t.regex(await page.getByTestId('back-to-source').innerText(), /seed peer fetched from the origin\s+seed_peer/, 'back-to-source is split by reason');
  await shot(page, '07-dashboard');

  for (const [hash, name] of [['nodes', '08-nodes'], ['users', '09-users'], ['tenants', '10-tenants']] as const) {
    await page.goto(`${node.managerUrl}/#/${hash}`);
    await page.locator('table').first().waitFor();
    await shot(page, name);
  }
  t.regex(await page.locator('body').innerText(), /default/);
  await page.goto(`${node.managerUrl}/#/nodes`);
  t.regex(await page.getByTestId('schedulers').innerText(), /active/, 'the scheduler is shown active');
  t.regex(await page.getByTestId('download-peers').innerText(), /seed/, 'the hosts seen in downloads include the seed peer');
  const version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  for (const testid of ['seed-peers', 'peers']) {
    const row = page.getByTestId(testid).locator('tbody tr');
    t.is(await row.count(), 1, `the all-in-one's one ${testid === 'peers' ? 'peer' : 'seed peer'} is listed`);
    const cells = await row.locator('td').allInnerTexts();
    t.is(cells[1], version, `${testid}: the package version is shown`);
    t.is(cells[3], 'active', `${testid}: it keeps alive`);
    t.regex(cells[4] ?? '', /^\d[\d.]* [KMGT]?i?B used of \d[\d.]* [KMGT]?i?B, \d[\d.]* [KMGT]?i?B free$/, `${testid}: its disk is shown (${cells[4]})`);
    t.regex(cells[2] ?? '', /^127\.0\.0\.1 rpc :\d+ upload :\d+/, `${testid}: its address is shown`);
  }
  await shot(page, '08b-peers');

  await page.goto(`${node.managerUrl}/#/audit`);
  await page.getByLabel('Path prefix').fill('/api/v1/personal-access-tokens');
  await page.getByLabel('Method').selectOption('POST');
  await page.getByRole('button', { name: 'Filter' }).click();
  // The unfiltered log shows first; the filtered one replaces it.
  await page.getByTestId('audits').getByText(/^GET /).first().waitFor({ state: 'detached' });
  await page.getByTestId('audits').getByText('POST /api/v1/personal-access-tokens').first().waitFor();
  t.notRegex(await page.getByTestId('audits').innerText(), /GET /, 'the filter keeps only the token creations');
  await shot(page, '11-audit');

  await page.goto(`${node.managerUrl}/#/syncs`);
  await page.getByTestId('syncs-empty').getByText('No sync jobs yet.').waitFor();
  await page.getByLabel('Source').fill('s3://models/llm/');
  await page.getByLabel('Schedule (cron)').fill('0 0 1 1 *');
  await page.getByLabel('Copy to (on a seed peer)').fill('/srv/models/llm');
  await page.getByRole('button', { name: 'Create sync job' }).click();
  await page.getByTestId('syncs').getByText('(copied by a seed peer)').waitFor();
  t.regex(await page.getByTestId('syncs').innerText(), /s3:\/\/models\/llm\/ → \/srv\/models\/llm/, 'a copy-mode sync job is created from the form and shown with its destination');
  await page.getByLabel('Webhook URL').fill(origin.urlOf('/hook'));
  await page.getByLabel('Webhook name').fill('console-hook');
  await page.getByRole('button', { name: 'Create webhook' }).click();
  t.regex(await page.getByTestId('new-webhook').locator('code').innerText(), /^whsec_/, 'the signing secret is shown once');
  await page.getByTestId('webhooks').getByText('console-hook').waitFor();
  t.regex(await page.getByTestId('webhooks').innerText(), /127\.0\.0\.1[\s\S]*job\.succeeded/, 'the webhook is listed with its URL and events');
  await shot(page, '12-sync-webhooks');

  await page.goto(`${node.managerUrl}/#/tokens`);
  await page.getByTestId('revoke-console-e2e').click();
  await page.getByTestId('revoke-console-e2e').waitFor({ state: 'detached' });
  await shot(page, '12b-token-revoked');
  t.is(await oapiStatus(node.managerUrl, token), 401, 'the API refuses the revoked token');

  const stat = await runCli(['cache', 'stat', cacheId, '--json', '--socket', node.socket]);
  t.is(stat.code, 0, stat.stderr);
  const local = JSON.parse(stat.stdout) as LocalCacheTask;
  const holderNames = (local.holders ?? []).map((h) => h.hostname);
  t.true(holderNames.length > 0, `the scheduler knows a holder: ${stat.stdout}`);
  await page.goto(`${node.managerUrl}/#/persistent-cache`);
  const row = page.getByTestId('cache-tasks').locator('tbody tr').filter({ has: page.getByTestId(`delete-${cacheId}`) });
  for (let i = 0; i < 30 && (await row.count()) === 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    await page.getByRole('button', { name: 'Refresh' }).click();
  }
  const rowText = await row.innerText();
  t.regex(rowText, /5\.0 MiB/, 'the list shows the size');
  t.regex(rowText, new RegExp(`\\b${local.pieceCount}\\b`), 'the list shows the pieces');
  t.regex(rowText, /1 of 1/, 'one replica of the one wanted');
  t.regex(rowText, /5\d min/, 'about an hour of TTL left');
  t.regex(rowText, /default/, 'the scheduler cluster is named');
  for (const name of holderNames) t.true(rowText.includes(name), `the holder ${name} is listed: ${rowText}`);
  await shot(page, '13-persistent-cache');
  await row.getByRole('link').click();
  const cacheHolders = page.getByTestId('cache-holders');
  await cacheHolders.waitFor();
  t.is(await cacheHolders.locator('tbody tr').count(), holderNames.length, 'the task shows each holder');
  t.regex(await cacheHolders.innerText(), /127\.0\.0\.1[\s\S]*replica/);
  t.regex(await page.getByTestId('cache-task').innerText(), new RegExp(cacheId), 'the task shows its full id');
  await shot(page, '14-persistent-cache-task');
  await page.getByRole('button', { name: 'Delete task' }).click();
  await page.getByTestId('cache-deleted').getByText(`Deleted ${cacheId}`).waitFor({ timeout: 30_000 });
  await page.getByText('No persistent-cache task').waitFor();
  await shot(page, '15-persistent-cache-deleted');
  const session = await page.evaluate<string>('sessionStorage.getItem("d7y.session")');
  const gone = await fetch(`${node.managerUrl}/api/v1/persistent-cache-tasks/${cacheId}`, { headers: { authorization: `Bearer ${session}` }, signal: AbortSignal.timeout(10_000) });
  t.is(gone.status, 404);
  t.regex(await gone.text(), /was deleted/, 'the manager says the task was deleted');
  const statGone = await runCli(['cache', 'stat', cacheId, '--socket', node.socket]);
  t.not(statGone.code, 0);
  t.regex(statGone.stderr, /was deleted/, 'the node\'s scheduler knows it was deleted');
  t.deepEqual(pageErrors, [], 'no script error and no CSP violation in the page');
});
