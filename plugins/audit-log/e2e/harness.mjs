// What every browser scenario shares: the harness built by Vite and served by `vite preview`
// (its proxy adds AUDITLOG_TOKEN), headless Chromium, and the step/expect helpers.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const configFile = join(root, 'dev', 'vite.config.mts');

export class Failure extends Error {}

export function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}:\n  expected ${e}\n  actual   ${a}`);
}

export function expectTrue(value, what) {
  if (!value) throw new Failure(what);
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

async function servePreview() {
  const port = await freePort();
  const server = await preview({
    configFile,
    logLevel: 'warn',
    preview: { port, strictPort: true },
  });
  return { url: `http://127.0.0.1:${port}`, server };
}

/** The harness, the browser and one page; `page` is replaced by scenarios that sign in anew. */
export class Harness {
  static async start(results) {
    await mkdir(results, { recursive: true });
    const outDir = await mkdtemp(join(tmpdir(), 'audit-log-harness-'));
    process.env.HARNESS_OUT_DIR = outDir;
    await build({ configFile, logLevel: 'warn' });
    const served = await servePreview();
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
    const harness = new Harness(results, outDir, served, browser);
    harness.page = await harness.newPage({});
    return harness;
  }

  constructor(results, outDir, served, browser) {
    this.results = results;
    this.outDir = outDir;
    this.base = served.url;
    this.server = served.server;
    this.browser = browser;
    this.consoleErrors = [];
    this.passed = 0;
    this.failed = 0;
    // Bound, so that scenarios can take them apart from the harness.
    for (const name of [
      'step',
      'open',
      'rowIds',
      'waitForIds',
      'exported',
      'previewAs',
      'createStream',
    ])
      this[name] = this[name].bind(this);
  }

  /** A page in a new context (extra headers sign a user in), its console errors collected. */
  async newPage({ viewport = { width: 1440, height: 1000 }, headers }) {
    const context = await this.browser.newContext({
      viewport,
      acceptDownloads: true,
      locale: 'en-GB',
      timezoneId: 'UTC',
      ...(headers ? { extraHTTPHeaders: headers } : {}),
    });
    const page = await context.newPage();
    page.on('console', message => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    page.on('pageerror', error => this.consoleErrors.push(String(error)));
    page.setDefaultTimeout(15_000);
    return page;
  }

  async step(name, fn) {
    const started = Date.now();
    try {
      await fn();
      this.passed += 1;
      console.log(`ok - ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      this.failed += 1;
      const shot = join(
        this.results,
        `failure-${name.replace(/[^a-z0-9]+/gi, '-')}.png`,
      );
      await this.page
        .screenshot({ path: shot, fullPage: true, animations: 'disabled' })
        .catch(() => {});
      console.log(
        `not ok - ${name}\n  ${String(error.stack ?? error)
          .split('\n')
          .join('\n  ')}\n  url: ${this.page.url()}\n  screenshot: ${shot}`,
      );
    }
  }

  /** The audit ids in the table, top to bottom, once the table has settled on `count` rows. */
  async rowIds(count) {
    if (count !== undefined) {
      await this.page.waitForFunction(
        n => document.querySelectorAll('[data-audit-id]').length === n,
        count,
      );
    }
    return this.page.$$eval('[data-audit-id]', links =>
      links.map(a => a.getAttribute('data-audit-id')),
    );
  }

  async open(path) {
    await this.page.goto(`${this.base}${path}`);
    await this.page.getByTestId('event-explorer').waitFor();
  }

  async waitForIds(expected, what) {
    try {
      await this.page.waitForFunction(
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
    expectEqual(await this.rowIds(), expected, what);
    // And no fetch still running (the table is aria-busy while one is).
    await this.page.waitForFunction(
      () => !document.querySelector('[aria-busy="true"]'),
    );
  }

  async exported(buttonName) {
    const [download] = await Promise.all([
      this.page.waitForEvent('download'),
      this.page.getByRole('button', { name: buttonName }).click(),
    ]);
    const path = join(this.results, download.suggestedFilename());
    await download.saveAs(path);
    return {
      name: download.suggestedFilename(),
      text: await readFile(path, 'utf8'),
    };
  }

  /** A second harness server whose proxy sends `token` (the first one sends AUDITLOG_TOKEN). */
  async previewAs(token) {
    const reader = process.env.AUDITLOG_TOKEN;
    process.env.AUDITLOG_TOKEN = token; // the config reads it when loaded, once per server
    try {
      return await servePreview();
    } finally {
      process.env.AUDITLOG_TOKEN = reader;
    }
  }

  /** Creates a log stream in the manifest's tenant through the API itself, as an admin. */
  async createStream(token, body) {
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

  async close() {
    await this.browser.close();
    await new Promise(resolve => this.server.httpServer.close(resolve));
    await rm(this.outDir, { recursive: true, force: true });
  }
}
