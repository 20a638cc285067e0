/**
 * The harness page: the plugin's views inside a minimal Backstage-like shell (BUI's styles, an
 * API holder with the real client and an app config, React Router). `/audit-log` is the page
 * (with its tabs: `/audit-log/streams` for the log streams), `/entity/<service>` an entity tab
 * for a catalog entity annotated with that service name.
 */
import '@backstage/ui/css/styles.css';
import { ApiProvider, ConfigReader } from '@backstage/core-app-api';
import {
  configApiRef,
  type ApiHolder,
  type ApiRef,
} from '@backstage/core-plugin-api';
import { Container, PluginHeader, Text } from '@backstage/ui';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import {
  BrowserRouter,
  Link,
  Navigate,
  Route,
  Routes,
  useParams,
} from 'react-router-dom';
import { auditLogApiRef } from '../src/api/AuditLogApi';
import { AuditLogClient } from '../src/api/AuditLogClient';
import { AuditLogPageContent } from '../src/components/AuditLogPage';
import { EntityAuditLogView } from '../src/components/EntityAuditLogView';
import { AUDIT_LOG_SERVICE_ANNOTATION } from '../src/components/entityAnnotation';

const client = new AuditLogClient({
  discoveryApi: {
    getBaseUrl: async (pluginId: string) =>
      `${window.location.origin}/api/${pluginId}`,
  },
  fetchApi: { fetch: (input, init) => window.fetch(input, init) },
});
// An app config without `auditLog.witnesses`: the integrity panel makes no witness check.
const config = new ConfigReader({});
const apis = new Map<string, unknown>([
  [auditLogApiRef.id, client],
  [configApiRef.id, config],
]);
const apiHolder: ApiHolder = {
  get: <T,>(ref: ApiRef<T>) => apis.get(ref.id) as T | undefined,
};

function EntityTab() {
  const { service = '' } = useParams();
  const entity = {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: service,
      annotations: { [AUDIT_LOG_SERVICE_ANNOTATION]: service },
    },
  };
  return (
    <>
      <Text as="h2" variant="title-small">
        Component {service} · Audit log tab
      </Text>
      <EntityAuditLogView entity={entity} />
    </>
  );
}

function Shell() {
  return (
    <>
      <PluginHeader title="Audit log" />
      <Routes>
        <Route path="/" element={<Navigate to="/audit-log" replace />} />
        <Route path="/audit-log/*" element={<AuditLogPageContent />} />
        <Route
          path="/entity/:service/*"
          element={
            <Container>
              <EntityTab />
            </Container>
          }
        />
        <Route
          path="*"
          element={<Link to="/audit-log">Open the audit log</Link>}
        />
      </Routes>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiProvider apis={apiHolder}>
      <BrowserRouter>
        <Shell />
      </BrowserRouter>
    </ApiProvider>
  </StrictMode>,
);
