import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReceivedRequest } from './webhook-receiver.js';

export const SUBSCRIPTIONS = '/v1.0/subscriptions';

/** The decoded `validationToken` of a handshake, or undefined for any other request. */
export function validationTokenOf(received: Pick<ReceivedRequest, 'url'>): string | undefined {
  return new URL(received.url, 'https://receiver.test').searchParams.get('validationToken') ?? undefined;
}

/** A receiver as Graph documents it: echo the decoded token as text/plain, accept notifications with 202. */
export function graphReceiver(_req: IncomingMessage, res: ServerResponse, received: ReceivedRequest): void {
  const token = validationTokenOf(received);
  if (token === undefined) {
    res.writeHead(202).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(token);
}

/** A create body that passes every check, expiring in an hour. */
export function subscriptionBody(notificationUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    resource: 'informationProtection/threatAssessmentRequests',
    changeType: 'created,updated',
    notificationUrl,
    expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
    clientState: 'secretClientValue',
    ...overrides,
  };
}
