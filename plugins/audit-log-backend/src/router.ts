import type {
  BackstageCredentials,
  BackstageUserPrincipal,
  HttpAuthService,
  LoggerService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import {
  AuthorizeResult,
  type BasicPermission,
} from '@backstage/plugin-permission-common';
import express, { type Request, type Response } from 'express';
import Router from 'express-promise-router';
import {
  tenantsFor,
  type AuditLogBackendConfig,
  type TenantAccess,
} from './access';
import {
  auditLogAdminPermission,
  auditLogEntityEventsReadPermission,
  auditLogEventsExportPermission,
  auditLogEventsReadPermission,
} from './permissions';
import { AuditLogUpstream, type UpstreamRequest } from './upstream';

/** The annotation naming the `service_name` an entity's events carry (as in the frontend). */
export const AUDIT_LOG_SERVICE_ANNOTATION = 'audit-log/service-name';
/** Which of the user's tenants a request is for (default: the first the rules give). */
export const TENANT_HEADER = 'x-audit-log-tenant';
/** The catalog entity a request is scoped to (the entity tab): reads only its service's events. */
export const ENTITY_HEADER = 'x-audit-log-entity';

type Need = 'read' | 'export' | 'admin';

/** Every API operation the portal may reach, and what each needs. Anything else is 404. */
interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: RegExp;
  need: Need;
  /**
   * What is sent upstream as the body: `tenant` the browser's JSON with `tenant_id` set to the
   * user's chosen tenant (admin creations name a tenant), `as-is` the browser's JSON (a change to
   * something already the tenant's), `none` nothing. GET and DELETE never carry one.
   */
  body?: 'tenant' | 'as-is' | 'none';
  /** Allowed on an entity tab; `event` ones first check the event is the entity's. */
  entity?: 'query' | 'event' | 'any';
}

const OPERATIONS: Operation[] = [
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/events\/export$/,
    need: 'export',
    entity: 'query',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/events$/,
    need: 'read',
    entity: 'query',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/events\/[^/]+$/,
    need: 'read',
    entity: 'event',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/events\/[^/]+\/proof$/,
    need: 'read',
    entity: 'event',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/checkpoints\/(latest|\d+)$/,
    need: 'read',
    entity: 'any',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/proofs\/consistency$/,
    need: 'read',
    entity: 'any',
  },
  {
    method: 'GET',
    path: /^\/api\/v1\/audit\/public-key$/,
    need: 'read',
    entity: 'any',
  },
  { method: 'GET', path: /^\/api\/v1\/admin\/legal-holds$/, need: 'admin' },
  {
    method: 'POST',
    path: /^\/api\/v1\/admin\/legal-holds$/,
    need: 'admin',
    body: 'tenant',
  },
  {
    method: 'DELETE',
    path: /^\/api\/v1\/admin\/legal-holds\/[^/]+$/,
    need: 'admin',
  },
  { method: 'GET', path: /^\/api\/v1\/admin\/erasures$/, need: 'admin' },
  {
    method: 'POST',
    path: /^\/api\/v1\/admin\/erasures$/,
    need: 'admin',
    body: 'tenant',
  },
  // What retention would delete: the API's dry run for the acting tenant (never a real run).
  {
    method: 'GET',
    path: /^\/api\/v1\/admin\/retention\/preview$/,
    need: 'admin',
  },
  // Log streams: the API answers only for streams of the acting tenant (404 for any other id).
  {
    method: 'GET',
    path: /^\/api\/v1\/admin\/streams(\/[^/]+)?$/,
    need: 'admin',
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/admin\/streams$/,
    need: 'admin',
    body: 'tenant',
  },
  {
    method: 'PATCH',
    path: /^\/api\/v1\/admin\/streams\/[^/]+$/,
    need: 'admin',
    body: 'as-is',
  },
  {
    method: 'DELETE',
    path: /^\/api\/v1\/admin\/streams\/[^/]+$/,
    need: 'admin',
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/admin\/streams\/[^/]+\/(pause|resume|test)$/,
    need: 'admin',
    body: 'none',
  },
  {
    method: 'POST',
    path: /^\/api\/v1\/admin\/streams\/[^/]+\/replay$/,
    need: 'admin',
    body: 'as-is',
  },
];

const BASIC: Record<Need, BasicPermission> = {
  read: auditLogEventsReadPermission,
  export: auditLogEventsExportPermission,
  admin: auditLogAdminPermission,
};

export interface RouterOptions {
  config: AuditLogBackendConfig;
  httpAuth: HttpAuthService;
  userInfo: UserInfoService;
  permissions: PermissionsService;
  catalog: CatalogService;
  logger: LoggerService;
}

/** The service's own error envelope, so the frontend shows the plugin's refusals like the API's. */
function refuse(res: Response, status: number, code: string, message: string) {
  res
    .status(status)
    .json({ error: { code, message, details: [], request_id: null } });
}

class Refusal extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { config, httpAuth, userInfo, permissions, catalog, logger } = options;
  const upstream = new AuditLogUpstream(config);
  const router = Router();
  router.use(express.json({ limit: '64kb' }));

  interface Caller {
    credentials: BackstageCredentials<BackstageUserPrincipal>;
    userEntityRef: string;
    tenants: TenantAccess[];
  }

  async function caller(req: Request): Promise<Caller> {
    const credentials = await httpAuth.credentials(req, { allow: ['user'] });
    const info = await userInfo.getUserInfo(credentials);
    return {
      credentials,
      userEntityRef: info.userEntityRef,
      tenants: tenantsFor(config.access, info.ownershipEntityRefs),
    };
  }

  function chosenTenant(req: Request, who: Caller): TenantAccess {
    const wanted = req.header(TENANT_HEADER);
    const access = wanted
      ? who.tenants.find(t => t.tenant === wanted)
      : who.tenants[0];
    if (!access) {
      throw new Refusal(
        403,
        'forbidden',
        wanted
          ? `${who.userEntityRef} has no access to tenant ${wanted}`
          : `${who.userEntityRef} is in no group that auditLog.access maps to a tenant`,
      );
    }
    return access;
  }

  async function allowed(who: Caller, need: Need): Promise<boolean> {
    const [decision] = await permissions.authorize(
      [{ permission: BASIC[need] }],
      {
        credentials: who.credentials,
      },
    );
    return decision.result === AuthorizeResult.ALLOW;
  }

  /** The service an entity tab reads, after the permission check on that entity. */
  async function entityService(
    who: Caller,
    entityRef: string,
  ): Promise<string> {
    const [decision] = await permissions.authorize(
      [
        {
          permission: auditLogEntityEventsReadPermission,
          resourceRef: entityRef,
        },
      ],
      { credentials: who.credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new Refusal(
        403,
        'forbidden',
        `not allowed to read the audit log of ${entityRef}`,
      );
    }
    const entity = await catalog.getEntityByRef(entityRef, {
      credentials: who.credentials,
    });
    const service =
      entity?.metadata.annotations?.[AUDIT_LOG_SERVICE_ANNOTATION]?.trim();
    if (!service) {
      throw new Refusal(
        404,
        'not_found',
        `${entityRef} is not in the catalog or has no ${AUDIT_LOG_SERVICE_ANNOTATION} annotation`,
      );
    }
    return service;
  }

  router.get('/me', async (req, res) => {
    const who = await caller(req);
    const [read, exportAllowed, admin] = await Promise.all(
      (['read', 'export', 'admin'] as const).map(need => allowed(who, need)),
    );
    res.json({
      userEntityRef: who.userEntityRef,
      tenants: who.tenants,
      allowed: { read, export: exportAllowed, admin },
    });
  });

  router.use(async (req, res) => {
    const operation = OPERATIONS.find(
      op => op.method === req.method && op.path.test(req.path),
    );
    if (!operation) {
      refuse(
        res,
        404,
        'not_found',
        `${req.method} ${req.path} is not available through Backstage`,
      );
      return;
    }
    try {
      const who = await caller(req);
      const access = chosenTenant(req, who);
      const entityRef = req.header(ENTITY_HEADER);
      const query = [
        ...new URL(req.originalUrl, 'http://backstage').searchParams,
      ].filter(
        // The tenant is the one asserted for the user, never a parameter the browser picks.
        ([name]) => name !== 'tenant_id',
      ) as Array<[string, string]>;
      let service: string | undefined;
      if (entityRef && operation.entity) {
        service = await entityService(who, entityRef);
        if (operation.need === 'export' && !(await allowed(who, 'export'))) {
          throw new Refusal(
            403,
            'forbidden',
            'not allowed to export audit events',
          );
        }
      } else if (!(await allowed(who, operation.need))) {
        throw new Refusal(
          403,
          'forbidden',
          `not allowed: ${BASIC[operation.need].name} is denied to ${
            who.userEntityRef
          }`,
        );
      }
      const request: UpstreamRequest = {
        method: operation.method,
        path: req.path,
        query,
      };
      if (service !== undefined && operation.entity === 'query') {
        request.query = [
          ...query.filter(([n]) => n !== 'service_name'),
          ['service_name', service],
        ];
      }
      if (operation.body === 'tenant' || operation.body === 'as-is') {
        const body = (req.body ?? {}) as Record<string, unknown>;
        // Admin creations name a tenant: always the user's chosen one.
        request.body =
          operation.body === 'tenant'
            ? { ...body, tenant_id: access.tenant }
            : body;
      }
      const actor = { userEntityRef: who.userEntityRef, access };
      if (service !== undefined && operation.entity === 'event') {
        const auditId = req.path.split('/')[5];
        const check = await upstream.call(actor, {
          method: 'GET',
          path: `/api/v1/audit/events/${auditId}`,
          query: [],
        });
        if (check.ok) {
          const event = (await check.json()) as {
            service_name?: string | null;
          };
          if (event.service_name !== service) {
            throw new Refusal(
              404,
              'not_found',
              'no such event for this entity',
            );
          }
        } else if (!req.path.endsWith('/proof')) {
          await AuditLogUpstream.relay(check, res);
          return;
        } else {
          await check.body?.cancel();
          throw new Refusal(404, 'not_found', 'no such event for this entity');
        }
      }
      const answer = await upstream.call(actor, request);
      await AuditLogUpstream.relay(answer, res);
    } catch (error) {
      if (error instanceof Refusal) {
        refuse(res, error.status, error.code, error.message);
        return;
      }
      if (
        error instanceof Error &&
        (error.name === 'TimeoutError' || error.name === 'TypeError')
      ) {
        // fetch's own failures: the API did not answer (down, unreachable, too slow).
        logger.warn(`audit log API call failed: ${error.message}`);
        if (!res.headersSent) {
          refuse(
            res,
            502,
            'bad_gateway',
            `the audit log API did not answer: ${error.message}`,
          );
        }
        return;
      }
      throw error;
    }
  });
  return router;
}
