/**
 * Stand-ins for what a real Backstage backend gets from its sign-in resolver and its permission
 * policy: users with groups, and a policy given as a function. Used by the router tests and by
 * dev/e2e-backend.ts (the backend the browser tests sign in to).
 */
import {
  coreServices,
  createServiceFactory,
  type BackstageCredentials,
  type BackstageUserPrincipal,
} from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  type AuthorizePermissionRequest,
  type QueryPermissionRequest,
} from '@backstage/plugin-permission-common';

/** `userInfo` as a sign-in resolver would give it: the user entity and the user's groups. */
export function userInfoWithGroups(groups: Record<string, string[]>) {
  return createServiceFactory({
    service: coreServices.userInfo,
    deps: {},
    factory: () => ({
      async getUserInfo(credentials: BackstageCredentials) {
        const { userEntityRef } =
          credentials.principal as BackstageUserPrincipal;
        return {
          userEntityRef,
          ownershipEntityRefs: [
            userEntityRef,
            ...(groups[userEntityRef] ?? []),
          ],
        };
      },
    }),
  });
}

export type Policy = (
  request: AuthorizePermissionRequest,
  userEntityRef: string,
) => boolean;

/** `permissions` deciding with `policy` (allow or deny; no conditional decisions). */
export function permissionsFrom(policy: Policy) {
  const userOf = (credentials: BackstageCredentials) =>
    (credentials.principal as BackstageUserPrincipal).userEntityRef ?? '';
  return createServiceFactory({
    service: coreServices.permissions,
    deps: {},
    factory: () => ({
      async authorize(
        requests: AuthorizePermissionRequest[],
        options: { credentials: BackstageCredentials },
      ) {
        return requests.map(request => ({
          result: policy(request, userOf(options.credentials))
            ? AuthorizeResult.ALLOW
            : AuthorizeResult.DENY,
        })) as any;
      },
      async authorizeConditional(requests: QueryPermissionRequest[]) {
        return requests.map(() => ({ result: AuthorizeResult.ALLOW })) as any;
      },
    }),
  });
}
