import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createContext, useContext, useState, type ReactNode } from 'react';
import { useResolvedPath } from 'react-router-dom';
import './auditLog.css';

/** Backstage gives plugins no React Query client: the plugin root brings its own. */
export function AuditLogQueryProvider({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 15_000 },
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
