export interface Config {
  /** The audit log backend plugin (@internal/plugin-audit-log-backend). */
  auditLog?: {
    /**
     * The audit log API: in production the API Gateway in front of the Cloud Functions, locally
     * `make run`'s server, e.g. http://127.0.0.1:8080.
     */
    baseUrl: string;
    /**
     * The plugin's own bearer token for the API (a JWT from the issuer the API trusts, whose
     * `sub` is listed in the API's AUDITLOG_DELEGATE_SUBJECTS). Each request also names the
     * signed-in user, whom the API records as the actor.
     * @visibility secret
     */
    serviceToken: string;
    /**
     * Who reads which tenant with which roles: a user whose ownership references (the user
     * entity and its groups) include one of `members` gets `roles` in `tenant`. Rules add up;
     * a user without a matching rule reads nothing.
     */
    access: Array<{
      tenant: string;
      /** Entity references, e.g. group:default/billing-team or user:default/alice. */
      members: string[];
      /** Any of audit_reader, audit_export, audit_admin, system_admin. */
      roles: string[];
    }>;
    /** Milliseconds before a call to the API is abandoned (default 30000; exports stream). */
    timeoutMs?: number;
  };
}
