import { createHash } from 'node:crypto';
import { ApiHeader } from '@nestjs/swagger';
import { DomainError, InvalidRequestError } from '../common/errors/domain-error.js';

/** What a POST carries in `Idempotency-Key`, with a fingerprint of the request it names. */
export interface IdempotencyClaim {
  key: string;
  requestHash: Buffer;
  ttlSeconds: number;
}

/** The same key was used earlier, in this tenant, for a different request: 422. */
export class IdempotencyKeyReusedError extends DomainError {
  constructor() {
    super('This Idempotency-Key was already used with a different request.', { status: 422, code: 'invalidRequest' });
  }
}

const KEY = /^[\x21-\x7e]{1,255}$/;

export class InvalidIdempotencyKeyError extends InvalidRequestError {
  constructor() {
    super('Idempotency-Key must be 1 to 255 visible ASCII characters.');
  }
}

/** Canonical JSON (sorted keys), so that key order in a retried body does not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The `Idempotency-Key` header; sent twice it is as invalid as malformed. */
export function idempotencyKeyOf(request: {
  headers: Record<string, string | string[] | undefined>;
}): string | undefined {
  const value = request.headers['idempotency-key'];
  if (Array.isArray(value)) throw new InvalidIdempotencyKeyError();
  return value;
}

export function idempotencyClaim(
  header: string | undefined,
  operation: readonly string[],
  body: unknown,
  ttlSeconds: number,
): IdempotencyClaim | undefined {
  if (header === undefined) return undefined;
  if (!KEY.test(header)) throw new InvalidIdempotencyKeyError();
  const requestHash = createHash('sha256')
    .update(canonical([operation, body]))
    .digest();
  return { key: header, requestHash, ttlSeconds };
}

/** Documents the optional `Idempotency-Key` request header of a POST. */
export const ApiIdempotencyKey = () =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes a retry safe: the same key and body within the key lifetime (IDEMPOTENCY_TTL_SECONDS, default 24 h) answer the first response, with `Idempotent-Replayed: true`, and write nothing; the same key with another body is 422. Keys are per tenant, 1 to 255 visible ASCII characters.',
    schema: { type: 'string', maxLength: 255 },
  });
