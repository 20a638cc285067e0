// The backend scenario: the harness through the audit log backend plugin, signed in as each user
// of the manifest in turn (Backstage's mock user tokens).
import { join } from 'node:path';
import { expectEqual, expectTrue } from './harness.mjs';
export async function backend(h, m) {
  const { step, open, waitForIds, exported, base, results } = h;
  /** A page signed in as `user` (Backstage's mock user token). */
  const signIn = async (user, viewport) => {
    h.page = await h.newPage({
      viewport,
      headers: {
        Authorization: `Bearer mock-user-token:${JSON.stringify({
          sub: user.ref,
        })}`,
      },
    });
  };
  for (const user of m.users) {
    await step(
      `${user.name} sees the events of tenant ${user.tenant} only`,
      async () => {
        await signIn(user, { width: 1280, height: 900 });
        await open('/audit-log');
        await waitForIds(user.ids, `${user.name}'s first page`);
        await h.page.screenshot({
          path: join(results, `backend-${user.name}.png`),
          fullPage: false,
          animations: 'disabled',
        });
      },
    );
    await step(
      `${user.name}: the page has a gutter and no horizontal overflow at 1280 px`,
      async () => {
        const layout = await h.page.evaluate(() => {
          const explorer = document
            .querySelector('[data-testid="event-explorer"]')
            .getBoundingClientRect();
          return {
            left: explorer.left,
            right: window.innerWidth - explorer.right,
            overflow: document.documentElement.scrollWidth - window.innerWidth,
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
        await h.page.goto(`${base}/entity/${user.entity.service}`);
        await h.page.getByTestId('event-explorer').waitFor();
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
          await h.page.getByRole('button', { name: 'Export CSV' }).click();
          await h.page
            .getByRole('alert')
            .filter({ hasText: 'audit-log.events.export' })
            .waitFor();
        }
      },
    );
    if (user.admin) {
      await step(
        `${user.name}: log streams are created, paused, resumed and deleted through the backend`,
        async () => {
          const api = `${base}/api/audit-log/api/v1/admin/streams`;
          const name = `bs-${user.name}-${Date.now()}`;
          // The browser names another tenant; the backend fixes the user's own.
          const made = await h.page.request.post(api, {
            data: {
              tenant_id: 'someone-else',
              name,
              destination: {
                type: 'webhook',
                url: 'http://127.0.0.1:9/hook',
                secret: `whsec_${'B'.repeat(32)}`,
              },
            },
          });
          const created = await made.json();
          expectEqual(
            made.status(),
            201,
            `create (${JSON.stringify(created)})`,
          );
          expectEqual(created.tenant_id, user.tenant, 'the stream tenant');
          await h.page.goto(`${base}/audit-log/streams`);
          const row = h.page.locator(`[data-stream-id="${created.stream_id}"]`);
          await row.waitFor();
          await row.getByRole('button', { name: `Pause ${name}` }).click();
          await row.locator('[data-state="paused"]').waitFor();
          await row.getByRole('button', { name: `Resume ${name}` }).click();
          await row
            .locator('[data-state="paused"]')
            .waitFor({ state: 'detached' });
          const gone = await h.page.request.delete(
            `${api}/${created.stream_id}`,
          );
          expectEqual(gone.status(), 200, 'delete');
          console.log(`stream ${created.stream_id}`);
        },
      );
      await step(
        `${user.name}: the admin tab places and releases a legal hold`,
        async () => {
          await open('/audit-log');
          await h.page.getByRole('link', { name: 'Admin' }).click();
          const holds = h.page.getByTestId('admin-holds');
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
          await h.page
            .getByTestId('admin-retention')
            .getByRole('button', { name: 'Run a dry run' })
            .click();
          // The API's retention preview: the acting tenant's counts, nothing of another's.
          const retention = h.page.getByTestId('admin-retention');
          const result = JSON.parse(
            await retention.getByTestId('retention-result').textContent(),
          );
          expectEqual(
            Object.keys(result.per_tenant),
            [user.tenant],
            'dry run of the own tenant',
          );
          expectEqual(result.dry_run, true, 'a preview deletes nothing');
          await h.page.screenshot({
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
            await h.page.getByRole('link', { name: 'Admin' }).count(),
            0,
            'admin links',
          );
          await h.page.goto(`${base}/audit-log/admin`);
          await h.page
            .getByText(/need the audit-log.admin permission/)
            .waitFor();
        },
      );
    }
  }
}
