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
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backend } from './backend.mjs';
import { explorer } from './explorer.mjs';
import { expectEqual, Harness } from './harness.mjs';
import { integrity } from './integrity.mjs';

const SCENARIOS = { explorer, integrity, backend };
const scenario = SCENARIOS[process.env.AUDITLOG_E2E_SCENARIO ?? 'explorer'];
if (!scenario)
  throw new Error(`unknown scenario ${process.env.AUDITLOG_E2E_SCENARIO}`);
for (const name of process.env.AUDITLOG_BACKEND_URL
  ? ['AUDITLOG_BACKEND_URL']
  : ['AUDITLOG_API_URL', 'AUDITLOG_TOKEN']) {
  if (!process.env[name]) throw new Error(`${name} is required`);
}
const manifest = JSON.parse(
  await readFile(process.env.AUDITLOG_E2E_MANIFEST, 'utf8'),
);
const results =
  process.env.RESULTS_DIR ??
  join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results');

const h = await Harness.start(results);
try {
  await scenario(h, manifest);
  const unexpected = h.consoleErrors.filter(t => !/status of 4\d\d/.test(t));
  await h.step('no errors in the browser console', async () => {
    expectEqual(unexpected, [], 'console errors');
  });
} finally {
  await h.close();
}
console.log(`${h.passed} passed, ${h.failed} failed`);
process.exit(h.failed ? 1 : 0);
