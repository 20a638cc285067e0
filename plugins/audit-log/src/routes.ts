import { createRouteRef as createLegacyRouteRef } from '@backstage/core-plugin-api';
import { createRouteRef } from '@backstage/frontend-plugin-api';

/** The page's route in the new frontend system. */
export const rootRouteRef = createRouteRef();

/** The page's route for legacy apps (`createRoutableExtension`). */
export const legacyRootRouteRef = createLegacyRouteRef({ id: 'audit-log' });
