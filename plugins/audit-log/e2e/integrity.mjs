// The integrity scenario: the checkpoint and an inclusion proof verified in the browser.
import { join } from 'node:path';
import { expectEqual, expectTrue } from './harness.mjs';
export async function integrity(h, m) {
  const { step, base, results } = h;
  await step('integrity panel verifies the latest checkpoint', async () => {
    await h.page.goto(`${base}/audit-log/integrity`);
    const panel = h.page.getByTestId('integrity-panel');
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
    await h.page.screenshot({
      path: join(results, 'integrity.png'),
      fullPage: true,
      animations: 'disabled',
    });
  });
  await step('an event inclusion proof verifies in the browser', async () => {
    const id = m.all_ids[0];
    await h.page.goto(`${base}/audit-log/events/${id}`);
    await h.page
      .getByRole('button', { name: 'Verify inclusion proof' })
      .click();
    const check = h.page.getByTestId('inclusion-check');
    await check.locator('p [data-verdict]').waitFor({ timeout: 20_000 });
    const verdict = await check
      .locator('p [data-verdict]')
      .getAttribute('data-verdict');
    expectEqual(verdict, 'verified', `verdict (${await check.textContent()})`);
    await h.page.screenshot({
      path: join(results, 'inclusion.png'),
      fullPage: true,
      animations: 'disabled',
    });
  });
}
