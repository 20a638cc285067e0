import { Container, Header, PluginHeader } from '@backstage/ui';
import { NavLink, Route, Routes, useLocation } from 'react-router-dom';
import type { ListFilter } from '../api/filters';
import { AdminPanel } from './AdminPanel';
import {
  AuditLogQueryProvider,
  BasePathProvider,
  useBasePath,
  useIdentity,
} from './AuditLogProvider';
import { EventDetail } from './EventDetail';
import { EventExplorer } from './EventExplorer';
import { IntegrityPanel } from './IntegrityPanel';
import { StreamsPanel } from './StreamsPanel';

function Nav({ admin }: { admin: boolean }) {
  const base = useBasePath();
  const identity = useIdentity();
  return (
    <nav className="al-nav" aria-label="Audit log views">
      <NavLink to={base || '/'} end>
        Events
      </NavLink>
      <NavLink to={`${base}/integrity`}>Integrity</NavLink>
      {/* Hidden only when the backend plugin says no; through a proxy the API decides (403). */}
      {admin && identity.data?.allowed.admin !== false && (
        <NavLink to={`${base}/streams`}>Streams</NavLink>
      )}
      {admin && identity.data?.allowed.admin && (
        <NavLink to={`${base}/admin`}>Admin</NavLink>
      )}
    </nav>
  );
}

/**
 * The plugin's views under one mount point: explorer, event detail, integrity, and on the page
 * (not on an entity's tab) the log streams and admin.
 */
export function AuditLogRoutes({
  lockedFilters,
}: {
  lockedFilters?: Partial<Record<ListFilter, string[]>>;
}) {
  return (
    <AuditLogQueryProvider>
      <BasePathProvider>
        <div className="al-root" style={{ paddingTop: 0 }}>
          {/* The streams and admin tabs belong to the page, not to an entity's tab. */}
          <Nav admin={!lockedFilters} />
          <Routes>
            <Route
              index
              element={<EventExplorer lockedFilters={lockedFilters} />}
            />
            <Route path="events/:auditId" element={<EventDetail />} />
            <Route path="integrity" element={<IntegrityPanel />} />
            {!lockedFilters && (
              <Route path="streams" element={<StreamsPanel />} />
            )}
            {!lockedFilters && <Route path="admin" element={<AdminPanel />} />}
          </Routes>
        </div>
      </BasePathProvider>
    </AuditLogQueryProvider>
  );
}

/** The section's name for the page header, from the path below the mount point. */
function sectionTitle(pathname: string): string {
  if (/\/events\/[^/]+\/?$/.test(pathname)) return 'Event';
  if (/\/integrity\/?$/.test(pathname)) return 'Integrity';
  if (/\/streams\/?$/.test(pathname)) return 'Log streams';
  if (/\/admin\/?$/.test(pathname)) return 'Admin';
  return 'Events';
}

/**
 * The page's content, laid out as the core pages are (the catalog's, for one): BUI's page
 * header, then the views in BUI's Container, which gives the gutter and the maximum width. The
 * new frontend system's PageBlueprint draws the plugin header above it.
 */
export function AuditLogPageContent() {
  const { pathname } = useLocation();
  return (
    <>
      <Header title={sectionTitle(pathname)} />
      <Container>
        <AuditLogRoutes />
      </Container>
    </>
  );
}

/** The legacy page (routes in App.tsx): BUI's plugin header above the same layout. */
export function AuditLogPage() {
  return (
    <>
      <PluginHeader title="Audit log" />
      <AuditLogPageContent />
    </>
  );
}
