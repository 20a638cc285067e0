// The explorer scenario: the harness against a real server with the manifest's events, as a
// reader/exporter; with AUDITLOG_ADMIN_TOKEN also the Streams tab as a tenant admin.
import { join } from 'node:path';
import { expectEqual, expectTrue } from './harness.mjs';
export async function explorer(h, m) {
  const { step, open, rowIds, waitForIds, exported, base, results } = h;
  await step('explorer lists the newest events first', async () => {
    await open('/audit-log');
    await waitForIds(m.all_ids.slice(0, 50), 'first page');
    await h.page
      .getByText(m.events_by_id[m.all_ids[0]].event_type)
      .first()
      .waitFor();
    await h.page.screenshot({
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
      await h.page.getByRole('textbox', { name: 'User' }).fill(m.user.value);
      await h.page.getByRole('button', { name: 'Apply filters' }).click();
      await waitForIds(m.user.ids, `events of ${m.user.value}`);
      expectTrue(
        new URL(h.page.url()).searchParams
          .getAll('user_id')
          .includes(m.user.value),
        'user_id in the URL',
      );
      await h.page
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
      const chips = await h.page.locator('.al-status').allTextContents();
      expectTrue(
        chips.every(t => t === 'failure' || t === 'denied'),
        `status chips ${chips}`,
      );
      await h.page
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
    await h.page
      .getByRole('textbox', { name: 'Metadata' })
      .fill(`region=${m.metadata.value}`);
    await h.page.getByRole('textbox', { name: 'Metadata' }).press('Enter');
    await waitForIds(m.metadata.ids, 'metadata.region');
  });

  await step('cursor paging walks every event and back', async () => {
    await open(`/audit-log?page_size=${m.page_size}`);
    const seen = [];
    for (let i = 0; ; i++) {
      const expected = m.all_ids.slice(i * m.page_size, (i + 1) * m.page_size);
      await waitForIds(expected, `page ${i + 1}`);
      seen.push(...expected);
      const older = h.page.getByRole('button', { name: 'Older' });
      if (await older.isDisabled()) break;
      await older.click();
    }
    expectEqual(seen, m.all_ids, 'all pages');
    await h.page.getByRole('button', { name: 'Newer' }).click();
    const pages = Math.ceil(m.all_ids.length / m.page_size);
    await waitForIds(
      m.all_ids.slice((pages - 2) * m.page_size, (pages - 1) * m.page_size),
      'back one page',
    );
  });

  await step(
    'sortable column sorts the loaded page and lands in the URL',
    async () => {
      await open(`/audit-log?user_id=${m.user.value}&user_id=${m.user2.value}`);
      await rowIds(m.user.ids.length + m.user2.ids.length);
      await h.page.getByRole('columnheader', { name: 'User' }).click();
      await h.page.waitForURL(/sort=user_id%3Aascending/);
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

  await step('time range: a custom absolute window from the URL', async () => {
    const { start, end, ids } = m.window;
    await open(
      `/audit-log?start_time=${encodeURIComponent(
        start,
      )}&end_time=${encodeURIComponent(end)}`,
    );
    await waitForIds(ids, 'events in the window');
    await h.page
      .getByRole('group', { name: /Custom time range|From/ })
      .first()
      .waitFor();
  });

  await step(
    'detail shows every field, pretty JSON and related links',
    async () => {
      const id = m.correlation.detail_id;
      const event = m.events_by_id[id];
      await open('/audit-log');
      await rowIds(Math.min(50, m.all_ids.length));
      await h.page.locator(`[data-audit-id="${id}"]`).click();
      await h.page.getByTestId('event-detail').waitFor();
      const fields = h.page.getByTestId('event-fields');
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
      const pretty = await h.page
        .getByTestId('json-request_data')
        .textContent();
      expectEqual(JSON.parse(pretty), event.request_data, 'request_data');
      expectTrue(pretty.includes('\n  "'), 'request_data is indented');
      await h.page.screenshot({
        path: join(results, 'detail.png'),
        fullPage: true,
        animations: 'disabled',
      });
      await h.page
        .getByRole('link', { name: 'Events with the same correlation id' })
        .click();
      await waitForIds(m.correlation.ids, 'same correlation id');
    },
  );

  await step('detail of a session links to the session', async () => {
    const id = m.session.detail_id;
    await h.page.goto(`${base}/audit-log/events/${id}`);
    await h.page
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
    await h.page.goto(`${base}/entity/${m.service.value}`);
    await h.page.getByTestId('event-explorer').waitFor();
    await waitForIds(m.service.ids.slice(0, 50), `service ${m.service.value}`);
    expectTrue(
      await h.page.getByRole('textbox', { name: 'Service' }).isDisabled(),
      'service filter locked',
    );
    await h.page.screenshot({
      path: join(results, 'entity-tab.png'),
      fullPage: false,
      animations: 'disabled',
    });
  });

  await step('an API error is shown, not swallowed', async () => {
    await open('/audit-log?metadata.bad%20key=x');
    await h.page.getByRole('alert').filter({ hasText: 'metadata' }).waitFor();
  });

  await step(
    'streams tab: a reader is told it needs the tenant admin role',
    async () => {
      await open('/audit-log');
      await h.page.getByRole('link', { name: 'Streams' }).click();
      await h.page
        .getByText('Log stream administration needs the tenant admin role')
        .waitFor();
      expectEqual(
        await h.page.getByRole('alert').count(),
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
        const created = await h.createStream(adminToken, {
          tenant_id: m.tenant,
          name,
          destination: {
            type: 'webhook',
            url: 'http://127.0.0.1:9/hook',
            secret: `whsec_${'A'.repeat(32)}`,
          },
        });
        const admin = await h.previewAs(adminToken);
        try {
          await h.page.goto(`${admin.url}/audit-log/streams`);
          const row = h.page.locator(`[data-stream-id="${created.stream_id}"]`);
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
          const outcome = h.page.getByTestId('stream-test-outcome');
          await outcome.waitFor();
          expectEqual(
            await outcome.getAttribute('data-ok'),
            'false',
            `test outcome (${await outcome.textContent()})`,
          );
          await row.getByRole('button', { name: `Pause ${name}` }).click();
          await row.locator('[data-state="paused"]').waitFor();
          await row.getByText('paused by an administrator').waitFor();
          await h.page.screenshot({
            path: join(results, 'streams.png'),
            fullPage: true,
            animations: 'disabled',
          });
          await row.getByRole('button', { name: `Resume ${name}` }).click();
          await row.locator('[data-state="paused"]').waitFor({
            state: 'detached',
          });
        } finally {
          await new Promise(resolve => admin.server.httpServer.close(resolve));
        }
      },
    );
  }
}
