// The scaffolded app in headless Chromium (run by backstage-app-check.sh from the app's
// plugins/audit-log, whose node_modules has playwright-core): guest sign-in, the audit log page
// (events listed, gutters as the catalog page has them, no horizontal overflow at 1280 px), the
// admin tab, an annotated entity's tab. Screenshots to $SCREENSHOTS.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');
const base = process.env.BACKSTAGE_URL;
const shots = process.env.SCREENSHOTS;

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
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(60_000);
const errors = [];
page.on('pageerror', error => errors.push(String(error)));

let failed = 0;
let passed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    await page
      .screenshot({ path: join(shots, `failure-${passed + failed}.png`) })
      .catch(() => {});
    console.log(`not ok - ${name}\n  ${String(error.stack ?? error)}`);
  }
}

/** How far `selector`'s box sits from the main area's left edge and the window's right. */
async function gutters(selector) {
  return page.evaluate(sel => {
    const box = document.querySelector(sel).getBoundingClientRect();
    const main = document.querySelector('main') ?? document.body;
    return {
      left: Math.round(box.left - main.getBoundingClientRect().left),
      right: Math.round(window.innerWidth - box.right),
      overflow: document.documentElement.scrollWidth - window.innerWidth,
    };
  }, selector);
}

await step('guest sign-in', async () => {
  await page.goto(base);
  await page.getByRole('button', { name: /enter/i }).first().click();
  // Signed in once the app's shell (the sidebar) replaces the sign-in page.
  await page.getByText('Catalog', { exact: true }).first().waitFor();
});

let catalog;
await step('the catalog page (for comparison)', async () => {
  await page.getByText('Catalog', { exact: true }).first().click();
  await page.getByRole('table').first().waitFor();
  console.log(`  catalog at ${page.url()}`);
  // The core pages put their content in BUI's Container (the catalog's table sits to the right
  // of its filters, so the container is what compares).
  catalog = await gutters('.bui-Container');
  await page.screenshot({ path: join(shots, 'catalog.png') });
  console.log(`  catalog container: ${JSON.stringify(catalog)}`);
});

await step('the audit log page lists the events, laid out like the catalog', async () => {
  await page.goto(`${base}/audit-log`);
  await page.waitForFunction(
    () => document.querySelectorAll('[data-audit-id]').length === 20,
  );
  const ours = await gutters('[data-testid="event-explorer"]');
  console.log(`  audit log explorer: ${JSON.stringify(ours)}`);
  if (ours.overflow > 0) throw new Error(`horizontal overflow ${ours.overflow}px`);
  if (ours.left < 16 || ours.right < 16) throw new Error(`no gutter: ${JSON.stringify(ours)}`);
  const container = await gutters('.bui-Container');
  console.log(`  audit log container: ${JSON.stringify(container)}`);
  if (
    catalog &&
    (Math.abs(container.left - catalog.left) > 2 || Math.abs(container.right - catalog.right) > 2)
  ) {
    throw new Error(`container ${JSON.stringify(container)}, the catalog's ${JSON.stringify(catalog)}`);
  }
  await page.screenshot({ path: join(shots, 'audit-log-page.png') });
});

await step('an event detail', async () => {
  await page.locator('[data-audit-id]').first().click();
  await page.getByTestId('event-fields').waitFor();
  await page.screenshot({ path: join(shots, 'audit-log-detail.png'), fullPage: true });
});

await step('the admin tab (the guest holds the admin permission in this app)', async () => {
  await page.goto(`${base}/audit-log`);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByTestId('admin-holds').waitFor();
  await page.getByTestId('admin-holds').getByText('No legal holds').waitFor();
  await page.screenshot({ path: join(shots, 'audit-log-admin.png'), fullPage: true });
});

await step("the annotated entity's tab", async () => {
  await page.goto(`${base}/catalog/default/component/billing/audit-log`);
  await page.waitForFunction(
    () => document.querySelectorAll('[data-audit-id]').length === 10,
  );
  await page.screenshot({ path: join(shots, 'audit-log-entity-tab.png') });
});

await step('no uncaught errors in the page', async () => {
  if (errors.length) throw new Error(errors.join('\n'));
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
