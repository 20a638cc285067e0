import { describe, it, expect } from 'vitest';
import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  FakeStreamsServer,
  makeStream,
} from '../__testing__/FakeStreamsServer';
import { auditLogApiRef } from '../api/AuditLogApi';
import { AuditLogRoutes } from './AuditLogPage';
import {
  destinationTarget,
  formatDuration,
  formatLag,
  withoutCredentials,
} from './streamFormat';

/** The page's routes at `path`, with the real client talking to `server`. */
async function render(server: FakeStreamsServer, path = '/streams') {
  return renderInTestApp(
    <TestApiProvider apis={[[auditLogApiRef, server.client()]]}>
      <AuditLogRoutes />
    </TestApiProvider>,
    { routeEntries: [path] },
  );
}

/** The table row of a stream. */
async function row(streamId: string): Promise<HTMLElement> {
  await screen.findByRole('table', { name: 'Log streams' });
  return document.querySelector(
    `[data-stream-id="${streamId}"]`,
  ) as HTMLElement;
}

const stateOf = (r: HTMLElement) =>
  r.querySelector('[data-state]')?.getAttribute('data-state');

const STREAMS = [
  makeStream('s-active', {
    name: 'siem-webhook',
    destination: {
      type: 'webhook',
      url: 'https://hook-user:hook-pass@siem.example.com/ingest?token=abc',
      secret_set: true,
      // Were the API ever to answer a secret, it must not be shown.
      secret: 'whsec_NEVERSHOWN',
    },
    status: { delivered_leaf_index: 1200, lag_events: 12, lag_seconds: 252 },
  }),
  makeStream('s-paused', {
    name: 'syslog-dc1',
    format: 'cef',
    destination: { type: 'syslog', host: 'logs.example.net', port: 6514 },
    status: {
      state: 'paused',
      paused_reason: 'paused: 401 Unauthorized',
      lag_events: 3400,
      lag_seconds: 7_500,
    },
  }),
  makeStream('s-failing', {
    name: 'archive',
    format: 'ocsf',
    destination: { type: 'gcs', bucket: 'acme-audit', prefix: 'stream/' },
    status: {
      state: 'failing',
      delivered_leaf_index: null,
      last_delivery_at: null,
      last_error: 'connection refused',
      consecutive_failures: 7,
      failing_since: '2026-11-25T12:00:00Z',
      lag_events: 90_000,
      lag_seconds: 93_600,
    },
  }),
];

describe('streams tab', () => {
  it('lists each stream with its destination, format, state and lag', async () => {
    const server = new FakeStreamsServer(STREAMS);
    await render(server);
    const active = await row('s-active');
    expect(stateOf(active)).toBe('active');
    expect(active).toHaveTextContent('siem-webhook');
    expect(active).toHaveTextContent('Webhook');
    expect(active).toHaveTextContent('https://siem.example.com/ingest?…');
    expect(active).toHaveTextContent('json');
    expect(active).toHaveTextContent('1200');
    expect(active).toHaveTextContent('12 events, 4 min 12 s');

    const paused = await row('s-paused');
    expect(stateOf(paused)).toBe('paused');
    expect(paused).toHaveTextContent('logs.example.net:6514 (TLS)');
    expect(paused).toHaveTextContent('cef');
    expect(paused).toHaveTextContent('paused: 401 Unauthorized');
    expect(paused).toHaveTextContent('3,400 events, 2 h 5 min');

    const failing = await row('s-failing');
    expect(stateOf(failing)).toBe('failing');
    expect(failing).toHaveTextContent('Cloud Storage');
    expect(failing).toHaveTextContent('gs://acme-audit/stream/');
    expect(failing).toHaveTextContent('connection refused');
    expect(failing).toHaveTextContent('1 d 2 h');
    expect(failing.querySelectorAll('td')[8]).toHaveTextContent('7');
    expect(
      failing.querySelector('.al-status')?.className.includes('failure'),
    ).toBe(true);

    const page = document.body.textContent ?? '';
    for (const secret of ['whsec_NEVERSHOWN', 'hook-pass', 'token=abc'])
      expect(page).not.toContain(secret);
    expect(screen.getByRole('link', { name: 'Streams' })).toBeInTheDocument();
  });

  it('pauses and resumes through their endpoints, then lists again', async () => {
    const server = new FakeStreamsServer(STREAMS);
    const user = userEvent.setup();
    await render(server);
    const active = await row('s-active');
    await user.click(
      within(active).getByRole('button', { name: 'Pause siem-webhook' }),
    );
    await waitFor(() => expect(stateOf(active)).toBe('paused'));
    expect(server.requests).toContain(
      'POST /api/v1/admin/streams/s-active/pause',
    );
    const pausedAt = server.requests.indexOf(
      'POST /api/v1/admin/streams/s-active/pause',
    );
    expect(server.requests.slice(pausedAt + 1)).toContain(
      'GET /api/v1/admin/streams',
    );
    expect(active).toHaveTextContent('paused by an administrator');

    await user.click(
      within(active).getByRole('button', { name: 'Resume siem-webhook' }),
    );
    await waitFor(() => expect(stateOf(active)).toBe('active'));
    expect(server.requests).toContain(
      'POST /api/v1/admin/streams/s-active/resume',
    );
    expect(
      within(active).queryByRole('button', { name: 'Resume siem-webhook' }),
    ).toBeNull();
    // A failing stream can be resumed now or paused.
    const failing = await row('s-failing');
    expect(
      within(failing).getByRole('button', { name: 'Resume archive' }),
    ).toBeInTheDocument();
    expect(
      within(failing).getByRole('button', { name: 'Pause archive' }),
    ).toBeInTheDocument();
  });

  it('sends a test event and shows what the destination answered', async () => {
    const server = new FakeStreamsServer(STREAMS);
    const user = userEvent.setup();
    await render(server);
    await user.click(
      within(await row('s-active')).getByRole('button', {
        name: 'Send test event to siem-webhook',
      }),
    );
    const delivered = await screen.findByTestId('stream-test-outcome');
    expect(delivered).toHaveAttribute('data-ok', 'true');
    expect(delivered).toHaveTextContent('Test event delivered to siem-webhook');
    expect(delivered).toHaveTextContent('HTTP 204: sent');
    expect(server.requests).toContain(
      'POST /api/v1/admin/streams/s-active/test',
    );

    server.testAnswer = {
      ok: false,
      status_code: null,
      detail: 'connection refused',
    };
    await user.click(
      within(await row('s-failing')).getByRole('button', {
        name: 'Send test event to archive',
      }),
    );
    await waitFor(() =>
      expect(screen.getByTestId('stream-test-outcome')).toHaveAttribute(
        'data-ok',
        'false',
      ),
    );
    const refused = screen.getByTestId('stream-test-outcome');
    expect(refused).toHaveTextContent('Test event not delivered to archive');
    expect(refused).toHaveTextContent('connection refused');
    expect(refused).not.toHaveTextContent('HTTP');
  });

  it('tells a user without the tenant admin role so, without an error dump', async () => {
    const server = new FakeStreamsServer(STREAMS);
    server.refuseWith = 403;
    await render(server);
    expect(
      await screen.findByText(
        'Log stream administration needs the tenant admin role',
      ),
    ).toBeInTheDocument();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(document.body.textContent).not.toContain('permission_denied');
    expect(document.body.textContent).not.toContain('req-1');
    expect(server.requests).toContain('GET /api/v1/admin/streams');
  });

  it('says when the tenant has no streams yet', async () => {
    await render(new FakeStreamsServer([]));
    expect(await screen.findByTestId('streams-empty')).toHaveTextContent(
      'This tenant has no log streams yet.',
    );
    expect(screen.queryByRole('table', { name: 'Log streams' })).toBeNull();
  });

  it('is linked unless the backend plugin denies admin; through a proxy the API decides', async () => {
    const denied = new FakeStreamsServer(STREAMS);
    denied.identity = {
      ...denied.identity!,
      allowed: { read: true, export: true, admin: false },
    };
    const { unmount } = await render(denied, '/');
    await waitFor(() => expect(denied.requests).toContain('GET /me'));
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: 'Streams' })).toBeNull(),
    );
    unmount();

    const proxied = new FakeStreamsServer(STREAMS);
    proxied.identity = null;
    await render(proxied, '/');
    expect(
      await screen.findByRole('link', { name: 'Streams' }),
    ).toBeInTheDocument();
  });
});

describe('stream formatting', () => {
  it('writes durations with their two largest units', () => {
    expect(
      [0, 0.4, 45, 60, 252, 3_600, 7_500, 93_600, 90_061].map(formatDuration),
    ).toEqual([
      '0 s',
      '0 s',
      '45 s',
      '1 min',
      '4 min 12 s',
      '1 h',
      '2 h 5 min',
      '1 d 2 h',
      '1 d 1 h',
    ]);
    expect(formatLag(0, 0)).toBe('up to date');
    expect(formatLag(1, 3)).toBe('1 event, 3 s');
    expect(formatLag(null, null)).toBe('—');
  });

  it('shows where a stream delivers, never a credential', () => {
    expect(withoutCredentials('https://u:p@h.example/x?k=v#f')).toBe(
      'https://h.example/x?…',
    );
    // Not parsable by URL: the user and password are still cut.
    expect(withoutCredentials('https://u:p@[bad/x')).toBe('https://[bad/x');
    expect(
      destinationTarget({
        type: 'splunk_hec',
        url: 'https://hec.example.com:8088',
        index: 'audit',
        token_set: true,
      }),
    ).toBe('https://hec.example.com:8088/ (index audit)');
    expect(
      destinationTarget({ type: 'syslog', host: 'h', port: 514, tls: false }),
    ).toBe('h:514 (plain TCP)');
    expect(
      destinationTarget({
        type: 'pubsub',
        topic: 'projects/acme-1/topics/audit',
      }),
    ).toBe('projects/acme-1/topics/audit');
    expect(destinationTarget({ type: 'carrier-pigeon' })).toBe('—');
  });
});
