import { describe, it, expect } from 'vitest';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { configApiRef } from '@backstage/core-plugin-api';
import {
  TestApiProvider,
  mockApis,
  renderInTestApp,
} from '@backstage/test-utils';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ReactElement } from 'react';
import { FakeAuditLogApi, makeEvent } from '../__testing__/FakeAuditLogApi';
import { AuditLogApiError, auditLogApiRef } from '../api/AuditLogApi';
import type { Checkpoint, InclusionProof, PublicKey } from '../api/types';
import vectors from '../integrity/__fixtures__/vectors.json';
import witnessed from '../integrity/__fixtures__/witnessed-note.json';
import { AuditLogRoutes } from './AuditLogPage';
import { EntityAuditLogContent } from './EntityAuditLogContent';

const EVENTS = Array.from({ length: 12 }, (_, i) => makeEvent(i));

async function render(
  element: ReactElement,
  path: string,
  api: FakeAuditLogApi,
) {
  return renderInTestApp(
    <TestApiProvider apis={[[auditLogApiRef, api]]}>{element}</TestApiProvider>,
    { routeEntries: [path] },
  );
}

/** Audit ids of the table rows, top to bottom. */
function rowIds(): string[] {
  return [...document.querySelectorAll('[data-audit-id]')].map(
    a => a.getAttribute('data-audit-id')!,
  );
}

const param = (api: FakeAuditLogApi, name: string, index = -1) =>
  api.searches
    .at(index)!
    .filter(([k]) => k === name)
    .map(([, v]) => v);

describe('event explorer', () => {
  it('sends the URL filters to the API and lists the answer newest first', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    await render(
      <AuditLogRoutes />,
      '/?user_id=alice&status=success&metadata.region=us',
      api,
    );
    const expected = EVENTS.filter(
      e =>
        e.user_id === 'alice' &&
        e.status === 'success' &&
        e.metadata?.region === 'us',
    ).map(e => e.audit_id);
    expect(expected.length).toBeGreaterThan(1);
    await waitFor(() => expect(rowIds()).toEqual(expected));
    expect(param(api, 'user_id')).toEqual(['alice']);
    expect(param(api, 'status')).toEqual(['success']);
    expect(param(api, 'metadata.region')).toEqual(['us']);
    expect(param(api, 'start_time')).toHaveLength(1);
    expect(screen.getByText('User: alice')).toBeInTheDocument();
  });

  it('applies typed filters (comma-separated values) and removes one with its chip', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, '/', api);
    await waitFor(() => expect(rowIds()).toHaveLength(12));
    await user.type(
      screen.getByRole('textbox', { name: 'User' }),
      'alice, bob',
    );
    await user.type(
      screen.getByRole('textbox', { name: 'Metadata' }),
      'region=eu{Enter}',
    );
    await waitFor(() =>
      expect(param(api, 'user_id')).toEqual(['alice', 'bob']),
    );
    expect(param(api, 'metadata.region')).toEqual(['eu']);
    await waitFor(() => expect(rowIds()).toHaveLength(4));
    await user.click(screen.getByRole('button', { name: 'Remove User: bob' }));
    await waitFor(() => expect(param(api, 'user_id')).toEqual(['alice']));
  });

  it('refuses a metadata entry without key=value instead of dropping it', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, '/', api);
    await waitFor(() => expect(rowIds()).toHaveLength(12));
    const before = api.searches.length;
    await user.type(
      screen.getByRole('textbox', { name: 'Metadata' }),
      'region{Enter}',
    );
    expect(
      await screen.findByText(/Write key=value: region/),
    ).toBeInTheDocument();
    expect(api.searches).toHaveLength(before);
  });

  it('pages forward with the cursor the API returned and back again', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, '/?page_size=5', api);
    await waitFor(() =>
      expect(rowIds()).toEqual(EVENTS.slice(0, 5).map(e => e.audit_id)),
    );
    await user.click(screen.getByRole('button', { name: 'Older' }));
    await waitFor(() =>
      expect(rowIds()).toEqual(EVENTS.slice(5, 10).map(e => e.audit_id)),
    );
    expect(param(api, 'page_token')).toEqual(['5']);
    // The cursor is bound to the exact query: the second page repeats the first's start_time.
    expect(param(api, 'start_time')).toEqual(param(api, 'start_time', 0));
    await user.click(screen.getByRole('button', { name: 'Older' }));
    await waitFor(() =>
      expect(rowIds()).toEqual(EVENTS.slice(10).map(e => e.audit_id)),
    );
    expect(screen.getByRole('button', { name: 'Older' })).toBeDisabled();
    await user.click(screen.getByRole('button', { name: 'Newer' }));
    await waitFor(() =>
      expect(rowIds()).toEqual(EVENTS.slice(5, 10).map(e => e.audit_id)),
    );
  });

  it('sorts the loaded page by a column header', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, '/', api);
    await waitFor(() => expect(rowIds()).toHaveLength(12));
    await user.click(screen.getByRole('columnheader', { name: /User/ }));
    await waitFor(() => {
      const users = rowIds().map(
        id => EVENTS.find(e => e.audit_id === id)!.user_id,
      );
      expect(users).toEqual([...users].sort());
      expect(users[0]).toBe('alice');
    });
    const searches = api.searches.length;
    expect(screen.getByText(/sorted within this page/)).toBeInTheDocument();
    expect(api.searches).toHaveLength(searches);
  });

  it('shows status chips', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    await render(<AuditLogRoutes />, '/?status=failure', api);
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    const chips = document.querySelectorAll('[data-status="failure"]');
    expect([...chips].map(c => c.textContent)).toEqual(['failure', 'failure']);
  });

  it('exports the current filter in both formats', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    URL.createObjectURL = () => 'blob:test';
    URL.revokeObjectURL = () => undefined;
    await render(<AuditLogRoutes />, '/?service_name=billing', api);
    await waitFor(() => expect(rowIds()).toHaveLength(6));
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));
    await user.click(screen.getByRole('button', { name: 'Export JSON' }));
    await waitFor(() =>
      expect(api.exports.map(e => e.format)).toEqual(['csv', 'json']),
    );
    expect(api.exports[0].query).toContainEqual(['service_name', 'billing']);
  });

  it('shows the service error with its field', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    api.searchError = new AuditLogApiError(
      400,
      'invalid_input',
      'the time window is too long',
      [
        {
          field: 'start_time',
          problem: 'must be at most 400 days before end_time',
        },
      ],
    );
    await render(<AuditLogRoutes />, '/', api);
    expect(
      await screen.findByText(/start_time: must be at most 400 days/),
    ).toBeInTheDocument();
    expect(screen.getByText('400 invalid_input')).toBeInTheDocument();
  });
});

describe('event detail', () => {
  it('shows every field, pretty JSON and links to related events', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const event = EVENTS[4];
    await render(<AuditLogRoutes />, `/events/${event.audit_id}`, api);
    const fields = await screen.findByTestId('event-fields');
    for (const name of [
      'audit_id',
      'timestamp',
      'session_id',
      'ip_address',
      'tenant_id',
      'partition_date',
    ]) {
      expect(within(fields).getByText(name)).toBeInTheDocument();
    }
    expect(within(fields).getByText(event.audit_id)).toBeInTheDocument();
    expect(screen.getByTestId('json-request_data').textContent).toBe(
      JSON.stringify(event.request_data, null, 2),
    );
    const link = screen.getByRole('link', {
      name: 'Events with the same correlation id',
    });
    const href = new URL(link.getAttribute('href')!, 'http://x');
    expect(href.searchParams.get('correlation_id')).toBe(event.correlation_id);
    expect(Date.parse(href.searchParams.get('start_time')!)).toBeLessThan(
      Date.parse(event.timestamp),
    );
    expect(Date.parse(href.searchParams.get('end_time')!)).toBeGreaterThan(
      Date.parse(event.timestamp),
    );
    expect(
      screen.getByRole('link', { name: 'Events with the same session' }),
    ).toBeInTheDocument();
  });

  it('says when the event does not exist', async () => {
    await render(
      <AuditLogRoutes />,
      '/events/nope',
      new FakeAuditLogApi(EVENTS),
    );
    expect(await screen.findByText('404 not_found')).toBeInTheDocument();
  });
});

describe('integrity panel', () => {
  const checkpoint = vectors.checkpoint as Checkpoint;
  const key = vectors.public_key as PublicKey;

  it('verifies the latest checkpoint signature in the browser', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    api.checkpoint = checkpoint;
    api.keys = [key];
    await render(<AuditLogRoutes />, '/integrity', api);
    const panel = await screen.findByTestId('integrity-panel');
    await waitFor(() =>
      expect(
        within(panel).getAllByText('✓ Verified').length,
      ).toBeGreaterThanOrEqual(3),
    );
    expect(within(panel).getByText(checkpoint.root_hash)).toBeInTheDocument();
  });

  it('says "not verified" for a checkpoint whose size was changed', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    api.checkpoint = { ...checkpoint, tree_size: checkpoint.tree_size + 1 };
    api.keys = [key];
    await render(<AuditLogRoutes />, '/integrity', api);
    expect(await screen.findAllByText('✗ Not verified')).not.toHaveLength(0);
  });

  it('checks the witness quorum that auditLog.witnesses sets', async () => {
    const vector = witnessed.cases.find(c => c.name.startsWith('one cos'))!;
    const api = new FakeAuditLogApi(EVENTS);
    api.checkpoint = (vector.proof as InclusionProof).checkpoint;
    api.keys = witnessed.public_keys;
    const config = mockApis.config({
      data: { auditLog: { witnesses: { keys: vector.witnesses.keys } } },
    });
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [auditLogApiRef, api],
          [configApiRef, config],
        ]}
      >
        <AuditLogRoutes />
      </TestApiProvider>,
      { routeEntries: ['/integrity'] },
    );
    const panel = await screen.findByTestId('integrity-panel');
    const witnesses = await within(panel).findByText('witness cosignatures');
    expect(witnesses.parentElement).toHaveTextContent(
      '✗ Not verified witness cosignatures: 1 of 2 required witnesses cosigned',
    );
    expect(
      within(panel).getByText('signed note').parentElement,
    ).toHaveTextContent('✓ Verified');
  });

  it('explains a server without checkpoints', async () => {
    await render(<AuditLogRoutes />, '/integrity', new FakeAuditLogApi(EVENTS));
    expect(
      await screen.findByText(/publishes no checkpoints/),
    ).toBeInTheDocument();
  });

  it("verifies an event's inclusion proof, and fails an altered one", async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    const proof = vectors.proofs[3] as InclusionProof;
    api.keys = [key];
    api.proofs.set(proof.audit_id, proof);
    api.proofs.set('tampered', {
      ...proof,
      audit_id: 'tampered',
      leaf_index: 2,
    });
    await render(<AuditLogRoutes />, '/integrity', api);
    const check = await screen.findByTestId('inclusion-check');
    await user.type(within(check).getByRole('textbox'), proof.audit_id);
    await user.click(
      within(check).getByRole('button', { name: 'Verify inclusion proof' }),
    );
    await waitFor(() =>
      expect(
        check.querySelector('p [data-verdict]')?.getAttribute('data-verdict'),
      ).toBe('verified'),
    );
    await user.clear(within(check).getByRole('textbox'));
    await user.type(within(check).getByRole('textbox'), 'tampered');
    await user.click(
      within(check).getByRole('button', { name: 'Verify inclusion proof' }),
    );
    await waitFor(() =>
      expect(
        check.querySelector('p [data-verdict]')?.getAttribute('data-verdict'),
      ).toBe('failed'),
    );
  });
});

describe('inclusion check before sequencing', () => {
  it('says the event is not in the log yet (409 not_sequenced), with the retry delay', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    api.getEventProof = async () => {
      throw new AuditLogApiError(
        409,
        'not_sequenced',
        'not sequenced yet',
        [],
        'r',
        2,
      );
    };
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, `/events/${EVENTS[0].audit_id}`, api);
    await user.click(
      await screen.findByRole('button', { name: 'Verify inclusion proof' }),
    );
    expect(
      await screen.findByText(/Not in the log yet.*try again in 2 s/),
    ).toBeInTheDocument();
  });
});

describe('entity tab', () => {
  const entity = (annotations: Record<string, string>) => ({
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'billing-api', annotations },
  });

  it('locks the explorer to the annotated service', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    await render(
      <EntityProvider entity={entity({ 'audit-log/service-name': 'identity' })}>
        <EntityAuditLogContent />
      </EntityProvider>,
      '/?service_name=billing',
      api,
    );
    await waitFor(() => expect(rowIds()).toHaveLength(6));
    expect(param(api, 'service_name')).toEqual(['identity']);
    // The backend plugin is told which entity, and checks the user may read it.
    expect(api.scopes.at(-1)).toBe('component:default/billing-api');
    expect(screen.getByRole('textbox', { name: 'Service' })).toBeDisabled();
  });

  it('explains the annotation when it is missing', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    await render(
      <EntityProvider entity={entity({})}>
        <EntityAuditLogContent />
      </EntityProvider>,
      '/',
      api,
    );
    expect(
      await screen.findByText('Add the audit-log/service-name annotation'),
    ).toBeInTheDocument();
    expect(api.searches).toHaveLength(0);
  });
});

describe('admin tab', () => {
  it('is offered with the admin permission: places and releases a hold, erases, dry-runs', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    const user = userEvent.setup();
    await render(<AuditLogRoutes />, '/admin', api);
    expect(
      await screen.findByRole('link', { name: 'Admin' }),
    ).toBeInTheDocument();
    const holds = await screen.findByTestId('admin-holds');
    expect(
      await within(holds).findByText('No legal holds'),
    ).toBeInTheDocument();
    await user.type(
      within(holds).getByRole('textbox', { name: 'Reason' }),
      'case 7',
    );
    await user.type(
      within(holds).getByRole('textbox', { name: 'Hold user' }),
      'carol',
    );
    await user.click(within(holds).getByRole('button', { name: 'Place hold' }));
    expect(await within(holds).findByText('user carol')).toBeInTheDocument();
    await user.click(
      within(holds).getByRole('button', { name: 'Release hold-1' }),
    );
    await waitFor(() =>
      expect(api.holds[0].released_by).toBe('user:default/alice'),
    );
    expect(
      within(holds).queryByRole('button', { name: 'Release hold-1' }),
    ).toBeNull();

    const erasures = screen.getByTestId('admin-erasures');
    const erase = within(erasures).getByRole('button', {
      name: 'Erase subject',
    });
    await user.type(within(erasures).getByRole('textbox'), 'dave');
    expect(erase).toBeDisabled();
    await user.click(within(erasures).getByRole('checkbox'));
    await user.click(erase);
    expect(
      await within(erasures).findByText('subject-of-dave'),
    ).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Run a dry run' }));
    expect(
      (await screen.findByTestId('retention-result')).textContent,
    ).toContain('"acme": 3');
  });

  it('is neither linked nor usable without the admin permission', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    api.identity = {
      ...api.identity!,
      allowed: { read: true, export: true, admin: false },
    };
    await render(<AuditLogRoutes />, '/admin', api);
    expect(
      await screen.findByText(/need the audit-log.admin permission/),
    ).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Admin' })).toBeNull();
  });
});

describe('admin tab on an entity', () => {
  it('is not offered on an entity tab', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    await render(
      <EntityProvider
        entity={{
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: {
            name: 'billing-api',
            annotations: { 'audit-log/service-name': 'billing' },
          },
        }}
      >
        <EntityAuditLogContent />
      </EntityProvider>,
      '/',
      api,
    );
    await waitFor(() => expect(rowIds()).toHaveLength(6));
    expect(screen.getByRole('link', { name: 'Integrity' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Admin' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Streams' })).toBeNull();
  });
});
