// Real-browser tests: the harness (built by Vite, served by `vite preview` with its proxy) in
// headless Chromium, against a real audit log server. Driven by tests/e2e/test_backstage_plugin.py,
// which starts the server, ingests the events described in the manifest and passes:
//   AUDITLOG_API_URL, AUDITLOG_TOKEN   the server and a reader/exporter token for its tenant
//   AUDITLOG_E2E_MANIFEST              JSON: what was ingested and what each view must show
//   AUDITLOG_E2E_SCENARIO              explorer (default), integrity, or backend: through the
//                                      audit log backend plugin at AUDITLOG_BACKEND_URL, signed
//                                      in as each user of the manifest in turn
//   AUDITLOG_ADMIN_TOKEN               optional, explorer: a system_admin token of the manifest's
//                                      tenant; the streams steps then create a log stream through
//                                      the API and drive the Streams tab as that admin
//   CHROMIUM_PATH                      default /usr/bin/chromium
// Screenshots and downloads go to test-results/ (kept as CI artefacts). Prints one line per
// step and "N passed, M failed".
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const results = process.env.RESULTS_DIR ?? join(root, 'test-results');
const scenario = process.env.AUDITLOG_E2E_SCENARIO ?? 'explorer';
const manifest = JSON.parse(
  await readFile(process.env.AUDITLOG_E2E_MANIFEST, 'utf8'),
);
for (const name of process.env.AUDITLOG_BACKEND_URL
  ? ['AUDITLOG_BACKEND_URL']
  : ['AUDITLOG_API_URL', 'AUDITLOG_TOKEN']) {
  if (!process.env[name]) throw new Error(`${name} is required`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

class Failure extends Error {}
function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}:\n  expected ${e}\n  actual   ${a}`);
}
function expectTrue(value, what) {
  if (!value) throw new Failure(what);
}

await mkdir(results, { recursive: true });
const outDir = await mkdtemp(join(tmpdir(), 'audit-log-harness-'));
process.env.HARNESS_OUT_DIR = outDir;
const configFile = join(root, 'dev', 'vite.config.mts');
await build({ configFile, logLevel: 'warn' });
const port = await freePort();
const server = await preview({
  configFile,
  logLevel: 'warn',
  preview: { port, strictPort: true },
});
const base = `http://127.0.0.1:${port}`;

/** A second harness server whose proxy sends `token` (the first one sends AUDITLOG_TOKEN). */
async function previewAs(token) {
  const reader = process.env.AUDITLOG_TOKEN;
  process.env.AUDITLOG_TOKEN = token; // the config reads it when loaded, once per server
  try {
    const adminPort = await freePort();
    const adminServer = await preview({
      configFile,
      logLevel: 'warn',
      preview: { port: adminPort, strictPort: true },
    });
    return { url: `http://127.0.0.1:${adminPort}`, server: adminServer };
  } finally {
    process.env.AUDITLOG_TOKEN = reader;
  }
}

/** Creates a log stream in the manifest's tenant through the API itself, as an admin. */
async function createStream(token, body) {
  const response = await fetch(
    `${process.env.AUDITLOG_API_URL}/api/v1/admin/streams`,
    {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify(body),
    },
  );
  const answer = await response.json();
  if (response.status !== 201)
    throw new Failure(
      `createStream ${response.status}: ${JSON.stringify(answer)}`,
    );
  return answer;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const context = await browser.newContext({
  viewport: { width: 1440, height: 1000 },
  acceptDownloads: true,
  locale: 'en-GB',
  timezoneId: 'UTC',
});
let page = await context.newPage();
const consoleErrors = [];
page.on('console', message => {
  if (message.type() === 'error') consoleErrors.push(message.text());
});
page.on('pageerror', error => consoleErrors.push(String(error)));
page.setDefaultTimeout(15_000);

let passed = 0;
let failed = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    const shot = join(
      results,
      `failure-${name.replace(/[^a-z0-9]+/gi, '-')}.png`,
    );
    await page
      .screenshot({ path: shot, fullPage: true, animations: 'disabled' })
      .catch(() => {});
    console.log(
      `not ok - ${name}\n  ${String(error.stack ?? error)
        .split('\n')
        .join('\n  ')}\n  url: ${page.url()}\n  screenshot: ${shot}`,
    );
  }
}

/** The audit ids in the table, top to bottom, once the table has settled on `count` rows. */
async function rowIds(count) {
  if (count !== undefined) {
    await page.waitForFunction(
      n => document.querySelectorAll('[data-audit-id]').length === n,
      count,
    );
  }
  return page.$$eval('[data-audit-id]', links =>
    links.map(a => a.getAttribute('data-audit-id')),
  );
}

async function open(path) {
  await page.goto(`${base}${path}`);
  await page.getByTestId('event-explorer').waitFor();
}

async function waitForIds(expected, what) {
  try {
    await page.waitForFunction(
      ids =>
        JSON.stringify(
          [...document.querySelectorAll('[data-audit-id]')].map(a =>
            a.getAttribute('data-audit-id'),
          ),
        ) === JSON.stringify(ids),
      expected,
      { timeout: 15_000 },
    );
  } catch {
    // Fall through to a readable comparison.
  }
  expectEqual(await rowIds(), expected, what);
  // And no fetch still running (the table is aria-busy while one is).
  await page.waitForFunction(
    () => !document.querySelector('[aria-busy="true"]'),
  );
}

async function exported(buttonName) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: buttonName }).click(),
  ]);
  const path = join(results, download.suggestedFilename());
  await download.saveAs(path);
  return {
    name: download.suggestedFilename(),
    text: await readFile(path, 'utf8'),
  };
}

const m = manifest;
try {
  if (scenario === 'explorer') {
    await step('explorer lists the newest events first', async () => {
      await open('/audit-log');
      await waitForIds(m.all_ids.slice(0, 50), 'first page');
      await page
        .getByText(m.events_by_id[m.all_ids[0]].event_type)
        .first()
        .waitFor();
      await page.screenshot({
        path: join(results, 'explorer.png'),
        fullPage: false,
        animations: 'disabled',
      });
    });

    await step(
      'filter by user through the form, URL and chips follow',
      async () => {
        await open('/audit-log');
        await rowIds(Math.min(50, m.all_ids.length));
        await page.getByRole('textbox', { name: 'User' }).fill(m.user.value);
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await waitForIds(m.user.ids, `events of ${m.user.value}`);
        expectTrue(
          new URL(page.url()).searchParams
            .getAll('user_id')
            .includes(m.user.value),
          'user_id in the URL',
        );
        await page
          .getByRole('listitem')
          .filter({ hasText: `User: ${m.user.value}` })
          .waitFor();
      },
    );

    await step(
      'several values and several filters combine (status any of, service)',
      async () => {
        await open(
          `/audit-log?status=failure&status=denied&service_name=${m.service.value}`,
        );
        await waitForIds(
          m.failed_in_service.ids,
          'failure or denied in the service',
        );
        const chips = await page.locator('.al-status').allTextContents();
        expectTrue(
          chips.every(t => t === 'failure' || t === 'denied'),
          `status chips ${chips}`,
        );
        await page
          .getByRole('button', { name: `Remove Status: failure` })
          .click();
        await waitForIds(
          m.denied_in_service.ids,
          'after removing the failure chip',
        );
      },
    );

    await step('metadata filter', async () => {
      await open('/audit-log');
      await page
        .getByRole('textbox', { name: 'Metadata' })
        .fill(`region=${m.metadata.value}`);
      await page.getByRole('textbox', { name: 'Metadata' }).press('Enter');
      await waitForIds(m.metadata.ids, 'metadata.region');
    });

    await step('cursor paging walks every event and back', async () => {
      await open(`/audit-log?page_size=${m.page_size}`);
      const seen = [];
      for (let i = 0; ; i++) {
        const expected = m.all_ids.slice(
          i * m.page_size,
          (i + 1) * m.page_size,
        );
        await waitForIds(expected, `page ${i + 1}`);
        seen.push(...expected);
        const older = page.getByRole('button', { name: 'Older' });
        if (await older.isDisabled()) break;
        await older.click();
      }
      expectEqual(seen, m.all_ids, 'all pages');
      await page.getByRole('button', { name: 'Newer' }).click();
      const pages = Math.ceil(m.all_ids.length / m.page_size);
      await waitForIds(
        m.all_ids.slice((pages - 2) * m.page_size, (pages - 1) * m.page_size),
        'back one page',
      );
    });

    await step(
      'sortable column sorts the loaded page and lands in the URL',
      async () => {
        await open(
          `/audit-log?user_id=${m.user.value}&user_id=${m.user2.value}`,
        );
        await rowIds(m.user.ids.length + m.user2.ids.length);
        await page.getByRole('columnheader', { name: 'User' }).click();
        await page.waitForURL(/sort=user_id%3Aascending/);
        const ids = await rowIds();
        const users = ids.map(id => m.events_by_id[id].user_id);
        expectEqual(users, [...users].sort(), 'users ascending');
        expectEqual(
          users[0],
          [m.user.value, m.user2.value].sort()[0],
          'first user',
        );
      },
    );

    await step(
      'time range: a custom absolute window from the URL',
      async () => {
        const { start, end, ids } = m.window;
        await open(
          `/audit-log?start_time=${encodeURIComponent(
            start,
          )}&end_time=${encodeURIComponent(end)}`,
        );
        await waitForIds(ids, 'events in the window');
        await page
          .getByRole('group', { name: /Custom time range|From/ })
          .first()
          .waitFor();
      },
    );

    await step(
      'detail shows every field, pretty JSON and related links',
      async () => {
        const id = m.correlation.detail_id;
        const event = m.events_by_id[id];
        await open('/audit-log');
        await rowIds(Math.min(50, m.all_ids.length));
        await page.locator(`[data-audit-id="${id}"]`).click();
        await page.getByTestId('event-detail').waitFor();
        const fields = page.getByTestId('event-fields');
        await fields.getByText(id, { exact: true }).waitFor();
        for (const name of [
          'audit_id',
          'timestamp',
          'session_id',
          'ip_address',
          'user_agent',
          'tenant_id',
          'correlation_id',
          'retention_period_days',
          'created_at',
          'partition_date',
        ]) {
          await fields.getByText(name, { exact: true }).waitFor();
        }
        await fields.getByText(event.user_agent, { exact: true }).waitFor();
        const pretty = await page
          .getByTestId('json-request_data')
          .textContent();
        expectEqual(JSON.parse(pretty), event.request_data, 'request_data');
        expectTrue(pretty.includes('\n  "'), 'request_data is indented');
        await page.screenshot({
          path: join(results, 'detail.png'),
          fullPage: true,
          animations: 'disabled',
        });
        await page
          .getByRole('link', { name: 'Events with the same correlation id' })
          .click();
        await waitForIds(m.correlation.ids, 'same correlation id');
      },
    );

    await step('detail of a session links to the session', async () => {
      const id = m.session.detail_id;
      await page.goto(`${base}/audit-log/events/${id}`);
      await page
        .getByRole('link', { name: 'Events with the same session' })
        .click();
      await waitForIds(m.session.ids, 'same session');
    });

    await step('export the current filter as CSV and as JSON', async () => {
      await open(`/audit-log?user_id=${m.user.value}`);
      await waitForIds(m.user.ids, 'filtered before export');
      const csv = await exported('Export CSV');
      expectTrue(csv.name.endsWith('.csv'), `csv file name ${csv.name}`);
      const lines = csv.text.trim().split(/\r?\n/);
      expectEqual(lines[0].split(','), m.columns, 'CSV header');
      expectEqual(lines.length - 1, m.user.ids.length, 'CSV rows');
      for (const id of m.user.ids)
        expectTrue(csv.text.includes(id), `CSV has ${id}`);
      const json = await exported('Export JSON');
      expectTrue(json.name.endsWith('.ndjson'), `json file name ${json.name}`);
      const records = json.text
        .trim()
        .split('\n')
        .map(line => JSON.parse(line));
      expectEqual(
        records.map(r => r.audit_id),
        m.user.ids,
        'NDJSON ids, newest first',
      );
    });

    await step('entity tab shows only the annotated service', async () => {
      await page.goto(`${base}/entity/${m.service.value}`);
      await page.getByTestId('event-explorer').waitFor();
      await waitForIds(
        m.service.ids.slice(0, 50),
        `service ${m.service.value}`,
      );
      expectTrue(
        await page.getByRole('textbox', { name: 'Service' }).isDisabled(),
        'service filter locked',
      );
      await page.screenshot({
        path: join(results, 'entity-tab.png'),
        fullPage: false,
        animations: 'disabled',
      });
    });

    await step('an API error is shown, not swallowed', async () => {
      await open('/audit-log?metadata.bad%20key=x');
      await page.getByRole('alert').filter({ hasText: 'metadata' }).waitFor();
    });

    await step(
      'streams tab: a reader is told it needs the tenant admin role',
      async () => {
        await open('/audit-log');
        await page.getByRole('link', { name: 'Streams' }).click();
        await page
          .getByText('Log stream administration needs the tenant admin role')
          .waitFor();
        expectEqual(
          await page.getByRole('alert').count(),
          0,
          'error alerts on a 403',
        );
      },
    );

    const adminToken = process.env.AUDITLOG_ADMIN_TOKEN;
    if (adminToken) {
      await step(
        'streams tab: an admin sees a stream made through the API, tests, pauses and resumes it',
        async () => {
          const name = `e2e-webhook-${Date.now()}`;
          const created = await createStream(adminToken, {
            tenant_id: m.tenant,
            name,
            destination: {
              type: 'webhook',
              url: 'http://127.0.0.1:9/hook',
              secret: `whsec_${'A'.repeat(32)}`,
            },
          });
          const admin = await previewAs(adminToken);
          try {
            await page.goto(`${admin.url}/audit-log/streams`);
            const row = page.locator(`[data-stream-id="${created.stream_id}"]`);
            await row.waitFor();
            const text = await row.textContent();
            for (const part of [name, 'Webhook', 'http://127.0.0.1:9/hook'])
              expectTrue(text.includes(part), `row shows ${part}: ${text}`);
            expectTrue(!text.includes('whsec_'), 'no secret in the row');
            const state = () =>
              row.locator('[data-state]').getAttribute('data-state');
            expectTrue(
              ['active', 'failing'].includes(await state()),
              `state ${await state()}`,
            );
            await row
              .getByRole('button', { name: `Send test event to ${name}` })
              .click();
            const outcome = page.getByTestId('stream-test-outcome');
            await outcome.waitFor();
            expectEqual(
              await outcome.getAttribute('data-ok'),
              'false',
              `test outcome (${await outcome.textContent()})`,
            );
            await row.getByRole('button', { name: `Pause ${name}` }).click();
            await row.locator('[data-state="paused"]').waitFor();
            await row.getByText('paused by an administrator').waitFor();
            await page.screenshot({
              path: join(results, 'streams.png'),
              fullPage: true,
              animations: 'disabled',
            });
            await row.getByRole('button', { name: `Resume ${name}` }).click();
            await row.locator('[data-state="paused"]').waitFor({
              state: 'detached',
            });
          } finally {
            await new Promise(resolve =>
              admin.server.httpServer.close(resolve),
            );
          }
        },
      );
    }
  } else if (scenario === 'integrity') {
    await step('integrity panel verifies the latest checkpoint', async () => {
      await page.goto(`${base}/audit-log/integrity`);
      const panel = page.getByTestId('integrity-panel');
      const signature = panel
        .locator('p [data-verdict]:not([data-verdict="pending"])')
        .first();
      await signature.waitFor({ timeout: 20_000 });
      const checks = await panel.locator('.al-checks').first().textContent();
      expectEqual(
        await signature.getAttribute('data-verdict'),
        'verified',
        `checkpoint (${checks})`,
      );
      const size = Number(
        await panel
          .getByTestId('checkpoint-fields')
          .locator('dd')
          .nth(1)
          .textContent(),
      );
      expectTrue(
        size >= m.all_ids.length,
        `tree size ${size} covers the ${m.all_ids.length} events`,
      );
      await page.screenshot({
        path: join(results, 'integrity.png'),
        fullPage: true,
        animations: 'disabled',
      });
    });
    await step('an event inclusion proof verifies in the browser', async () => {
      const id = m.all_ids[0];
      await page.goto(`${base}/audit-log/events/${id}`);
      await page
        .getByRole('button', { name: 'Verify inclusion proof' })
        .click();
      const check = page.getByTestId('inclusion-check');
      await check.locator('p [data-verdict]').waitFor({ timeout: 20_000 });
      const verdict = await check
        .locator('p [data-verdict]')
        .getAttribute('data-verdict');
      expectEqual(
        verdict,
        'verified',
        `verdict (${await check.textContent()})`,
      );
      await page.screenshot({
        path: join(results, 'inclusion.png'),
        fullPage: true,
        animations: 'disabled',
      });
    });
  } else if (scenario === 'backend') {
    /** A browser context signed in as `user` (Backstage's mock user token). */
    const signIn = async (user, viewport = { width: 1440, height: 1000 }) => {
      const userContext = await browser.newContext({
        viewport,
        acceptDownloads: true,
        locale: 'en-GB',
        timezoneId: 'UTC',
        extraHTTPHeaders: {
          Authorization: `Bearer mock-user-token:${JSON.stringify({
            sub: user.ref,
          })}`,
        },
      });
      page = await userContext.newPage();
      page.setDefaultTimeout(15_000);
      page.on('console', message => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', error => consoleErrors.push(String(error)));
    };
    for (const user of m.users) {
      await step(
        `${user.name} sees the events of tenant ${user.tenant} only`,
        async () => {
          await signIn(user, { width: 1280, height: 900 });
          await open('/audit-log');
          await waitForIds(user.ids, `${user.name}'s first page`);
          await page.screenshot({
            path: join(results, `backend-${user.name}.png`),
            fullPage: false,
            animations: 'disabled',
          });
        },
      );
      await step(
        `${user.name}: the page has a gutter and no horizontal overflow at 1280 px`,
        async () => {
          const layout = await page.evaluate(() => {
            const explorer = document
              .querySelector('[data-testid="event-explorer"]')
              .getBoundingClientRect();
            return {
              left: explorer.left,
              right: window.innerWidth - explorer.right,
              overflow:
                document.documentElement.scrollWidth - window.innerWidth,
            };
          });
          expectTrue(
            layout.left >= 16 && layout.right >= 16,
            `gutters ${JSON.stringify(layout)}`,
          );
          expectTrue(
            layout.overflow <= 0,
            `horizontal overflow ${JSON.stringify(layout)}`,
          );
        },
      );
      await step(
        `${user.name}: the entity tab shows the entity's service in the tenant`,
        async () => {
          await page.goto(`${base}/entity/${user.entity.service}`);
          await page.getByTestId('event-explorer').waitFor();
          await waitForIds(
            user.entity.ids,
            `${user.name}'s ${user.entity.service} tab`,
          );
        },
      );
      await step(
        `${user.name}: export ${user.export ? 'works' : 'is refused'}`,
        async () => {
          await open(`/audit-log?user_id=${user.export_user.value}`);
          await waitForIds(user.export_user.ids, 'filtered before export');
          if (user.export) {
            const csv = await exported('Export CSV');
            expectEqual(
              csv.text.trim().split(/\r?\n/).length - 1,
              user.export_user.ids.length,
              'CSV rows',
            );
          } else {
            await page.getByRole('button', { name: 'Export CSV' }).click();
            await page
              .getByRole('alert')
              .filter({ hasText: 'audit-log.events.export' })
              .waitFor();
          }
        },
      );
      if (user.admin) {
        await step(
          `${user.name}: the admin tab places and releases a legal hold`,
          async () => {
            await open('/audit-log');
            await page.getByRole('link', { name: 'Admin' }).click();
            const holds = page.getByTestId('admin-holds');
            await holds
              .getByRole('textbox', { name: 'Reason' })
              .fill(m.hold.reason);
            await holds
              .getByRole('textbox', { name: 'Hold user' })
              .fill(m.hold.user_id);
            await holds.getByRole('button', { name: 'Place hold' }).click();
            const row = holds.locator('tr', { hasText: m.hold.reason });
            await row.waitFor();
            const holdId = await row.getAttribute('data-hold-id');
            expectTrue(
              (await row.textContent()).includes(user.ref),
              'placed by the user',
            );
            await page
              .getByTestId('admin-retention')
              .getByRole('button', { name: 'Run a dry run' })
              .click();
            // The API's retention preview: the acting tenant's counts, nothing of another's.
            const retention = page.getByTestId('admin-retention');
            const result = JSON.parse(
              await retention.getByTestId('retention-result').textContent(),
            );
            expectEqual(
              Object.keys(result.per_tenant),
              [user.tenant],
              'dry run of the own tenant',
            );
            expectEqual(result.dry_run, true, 'a preview deletes nothing');
            await page.screenshot({
              path: join(results, 'admin.png'),
              fullPage: true,
              animations: 'disabled',
            });
            await holds
              .getByRole('button', { name: `Release ${holdId}` })
              .click();
            await holds
              .getByRole('button', { name: `Release ${holdId}` })
              .waitFor({ state: 'detached' });
            console.log(`hold ${holdId}`);
          },
        );
      } else {
        await step(
          `${user.name}: no admin tab without the admin permission`,
          async () => {
            await open('/audit-log');
            expectEqual(
              await page.getByRole('link', { name: 'Admin' }).count(),
              0,
              'admin links',
            );
            await page.goto(`${base}/audit-log/admin`);
            await page
              .getByText(/need the audit-log.admin permission/)
              .waitFor();
          },
        );
      }
    }
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  const unexpected = consoleErrors.filter(t => !/status of 4\d\d/.test(t));
  await step('no errors in the browser console', async () => {
    expectEqual(unexpected, [], 'console errors');
  });
} finally {
  await browser.close();
  await new Promise(resolve => server.httpServer.close(resolve));
  await rm(outDir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
