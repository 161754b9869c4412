// What the reference's hooks attach to each request.
import 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    clientRequestId: string;
    tenantId: string;
    identitySet: unknown;
  }
}
