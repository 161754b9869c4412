// What the reference's hooks attach to each request, beside the service's own (clientRequestId, apiVersion, caller).
import 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
  }
}
