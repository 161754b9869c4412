/** The verified caller of a request, from its token. Services receive this, never the raw token. */
export interface Caller {
  tenantId: string;
  kind: 'user' | 'application';
  /** `oid` for a user, `azp`/`appid` for an application. */
  id: string;
  displayName?: string;
  /** The client application the token was issued to (`azp`, else `appid`); for an application, its own id. */
  applicationId?: string;
  /** `oid`: the signed-in user, or the application's service principal. */
  objectId?: string;
  /** Delegated scopes (`scp`) for a user token, application roles (`roles`) for an app token. */
  permissions: ReadonlySet<string>;
}

export const PERMISSIONS = {
  read: 'ThreatAssessment.Read.All',
  readWrite: 'ThreatAssessment.ReadWrite.All',
} as const;

/** Graph's tenant for personal Microsoft accounts, which this API does not support. */
export const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}
