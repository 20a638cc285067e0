import { Container, PluginHeader } from '@backstage/ui';
import { NavLink, Route, Routes } from 'react-router-dom';
import type { ListFilter } from '../api/filters';
import {
  AuditLogQueryProvider,
  BasePathProvider,
  useBasePath,
} from './AuditLogProvider';
import { EventDetail } from './EventDetail';
import { EventExplorer } from './EventExplorer';
import { IntegrityPanel } from './IntegrityPanel';

function Nav() {
  const base = useBasePath();
  return (
    <nav className="al-nav" aria-label="Audit log views">
      <NavLink to={base || '/'} end>
        Events
      </NavLink>
      <NavLink to={`${base}/integrity`}>Integrity</NavLink>
    </nav>
  );
}

/** The plugin's views under one mount point: explorer, event detail, integrity. */
export function AuditLogRoutes({
  lockedFilters,
}: {
  lockedFilters?: Partial<Record<ListFilter, string[]>>;
}) {
  return (
    <AuditLogQueryProvider>
      <BasePathProvider>
        <div className="al-root" style={{ paddingTop: 0 }}>
          <Nav />
          <Routes>
            <Route
              index
              element={<EventExplorer lockedFilters={lockedFilters} />}
            />
            <Route path="events/:auditId" element={<EventDetail />} />
            <Route path="integrity" element={<IntegrityPanel />} />
          </Routes>
        </div>
      </BasePathProvider>
    </AuditLogQueryProvider>
  );
}

/** The page's content; the new frontend system's PageBlueprint draws the header around it. */
export function AuditLogPageContent() {
  return <AuditLogRoutes />;
}

/** The legacy page (routes in App.tsx): BUI's plugin header above the same views. */
export function AuditLogPage() {
  return (
    <>
      <PluginHeader title="Audit log" />
      <Container>
        <AuditLogRoutes />
      </Container>
    </>
  );
}
