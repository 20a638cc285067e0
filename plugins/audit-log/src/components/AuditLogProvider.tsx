import { useApi } from '@backstage/core-plugin-api';
import {
  QueryClient,
  QueryClientProvider,
  useQuery,
} from '@tanstack/react-query';
import {
  createContext,
  useContext,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { useResolvedPath } from 'react-router-dom';
import {
  AuditLogApiError,
  auditLogApiRef,
  type AuditLogApi,
  type RequestScope,
} from '../api/AuditLogApi';
import './auditLog.css';

/** Retry once on network and 5xx trouble; a 4xx will answer the same again. */
function retry(failures: number, error: Error): boolean {
  if (
    error instanceof AuditLogApiError &&
    error.status < 500 &&
    error.status !== 429
  )
    return false;
  return failures < 1;
}

/** Backstage gives plugins no React Query client: the plugin root brings its own. */
export function AuditLogQueryProvider({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry, refetchOnWindowFocus: false, staleTime: 15_000 },
        },
      }),
  );
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

const BasePathContext = createContext<string>('');

/** The pathname the plugin's views are mounted at (page route or entity tab). */
export function useBasePath(): string {
  return useContext(BasePathContext);
}

/** Captures the mount point so that views link to each other wherever the plugin sits. */
export function BasePathProvider({ children }: { children: ReactNode }) {
  const { pathname } = useResolvedPath('.');
  return (
    <BasePathContext.Provider value={pathname.replace(/\/+$/, '')}>
      {children}
    </BasePathContext.Provider>
  );
}

const ScopeContext = createContext<RequestScope>({});

/** Scopes every call below it, e.g. an entity tab's reads to its entity. */
export function AuditLogScopeProvider({
  scope,
  children,
}: {
  scope: RequestScope;
  children: ReactNode;
}) {
  return (
    <ScopeContext.Provider value={scope}>{children}</ScopeContext.Provider>
  );
}

/** The API client with the current scope applied to every call. */
export function useAuditLogApi(): AuditLogApi {
  const api = useApi(auditLogApiRef);
  const scope = useContext(ScopeContext);
  return useMemo(() => scoped(api, scope), [api, scope]);
}

function scoped(api: AuditLogApi, scope: RequestScope): AuditLogApi {
  if (!scope.entityRef && !scope.tenant) return api;
  return {
    getIdentity: (o = {}) => api.getIdentity({ ...o, scope }),
    searchEvents: (q, o = {}) => api.searchEvents(q, { ...o, scope }),
    getEvent: (id, o = {}) => api.getEvent(id, { ...o, scope }),
    exportEvents: (q, f, o = {}) => api.exportEvents(q, f, { ...o, scope }),
    getLatestCheckpoint: (o = {}) => api.getLatestCheckpoint({ ...o, scope }),
    getPublicKeys: (o = {}) => api.getPublicKeys({ ...o, scope }),
    getEventProof: (id, o = {}) => api.getEventProof(id, { ...o, scope }),
    listLegalHolds: (o = {}) => api.listLegalHolds({ ...o, scope }),
    placeLegalHold: (h, o = {}) => api.placeLegalHold(h, { ...o, scope }),
    releaseLegalHold: (id, o = {}) => api.releaseLegalHold(id, { ...o, scope }),
    listErasures: (o = {}) => api.listErasures({ ...o, scope }),
    eraseSubject: (u, o = {}) => api.eraseSubject(u, { ...o, scope }),
    retentionDryRun: (o = {}) => api.retentionDryRun({ ...o, scope }),
    listStreams: (o = {}) => api.listStreams({ ...o, scope }),
    getStream: (id, o = {}) => api.getStream(id, { ...o, scope }),
    createStream: (st, o = {}) => api.createStream(st, { ...o, scope }),
    updateStream: (id, p, o = {}) => api.updateStream(id, p, { ...o, scope }),
    deleteStream: (id, o = {}) => api.deleteStream(id, { ...o, scope }),
    pauseStream: (id, o = {}) => api.pauseStream(id, { ...o, scope }),
    resumeStream: (id, o = {}) => api.resumeStream(id, { ...o, scope }),
    replayStream: (id, f, o = {}) => api.replayStream(id, f, { ...o, scope }),
    testStream: (id, o = {}) => api.testStream(id, { ...o, scope }),
  };
}

/** The signed-in user as the backend plugin sees them (null through a proxy). */
export function useIdentity() {
  const api = useAuditLogApi();
  return useQuery({
    queryKey: ['audit-log', 'identity'],
    queryFn: ({ signal }) => api.getIdentity({ signal }),
    staleTime: 60_000,
  });
}
