import { describe, it, expect } from 'vitest';
import { FlatRoutes } from '@backstage/core-app-api';
import { renderTestApp } from '@backstage/frontend-test-utils';
import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { screen, waitFor } from '@testing-library/react';
import { Route } from 'react-router-dom';
import { FakeAuditLogApi, makeEvent } from './__testing__/FakeAuditLogApi';
import { auditLogApiRef } from './api/AuditLogApi';
import plugin, { AuditLogPage, auditLogPlugin } from './index';

const EVENTS = Array.from({ length: 3 }, (_, i) => makeEvent(i));
const rowIds = () =>
  [...document.querySelectorAll('[data-audit-id]')].map(a =>
    a.getAttribute('data-audit-id'),
  );

describe('new frontend system (default export)', () => {
  it('is the audit-log plugin with its API, page and entity content', () => {
    expect(plugin.pluginId).toBe('audit-log');
    // getExtension is typed by the ids the plugin holds; at run time it throws for others.
    for (const id of [
      'api:audit-log',
      'page:audit-log',
      'entity-content:audit-log',
    ] as const) {
      expect(plugin.getExtension(id).$$type).toBe(
        '@backstage/ExtensionDefinition',
      );
    }
    expect(() =>
      plugin.getExtension('page:other' as 'page:audit-log'),
    ).toThrow();
  });

  it('mounts the page at /audit-log in an app and lists events from the API', async () => {
    const api = new FakeAuditLogApi(EVENTS);
    renderTestApp({
      features: [plugin],
      initialRouteEntries: ['/audit-log'],
      apis: [[auditLogApiRef, api]],
    });
    await waitFor(() => expect(rowIds()).toEqual(EVENTS.map(e => e.audit_id)), {
      timeout: 10_000,
    });
    expect(screen.getAllByText('Audit log').length).toBeGreaterThan(0);
  });
});

describe('legacy frontend system', () => {
  it('exports a plugin and a routable page', async () => {
    expect(auditLogPlugin.getId()).toBe('audit-log');
    const api = new FakeAuditLogApi(EVENTS);
    await renderInTestApp(
      <TestApiProvider apis={[[auditLogApiRef, api]]}>
        <FlatRoutes>
          <Route path="/audit-log" element={<AuditLogPage />} />
        </FlatRoutes>
      </TestApiProvider>,
      { routeEntries: ['/audit-log'] },
    );
    await waitFor(() => expect(rowIds()).toEqual(EVENTS.map(e => e.audit_id)));
  });
});
