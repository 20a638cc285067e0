import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createContext, useContext, useState, type ReactNode } from 'react';
import { useResolvedPath } from 'react-router-dom';
import { AuditLogApiError } from '../api/AuditLogApi';
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
