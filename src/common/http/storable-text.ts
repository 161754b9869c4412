import type { FastifyRequest } from 'fastify';
import type { GraphErrorResponse } from '../errors/graph-error-body.js';

/**
 * What PostgreSQL can store in `text` and `jsonb` and give back unchanged: no NUL, and well-formed
 * UTF-16 (a lone surrogate would be written as U+FFFD, so the stored value would differ from the echo).
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\0') && value.isWellFormed();
}

/**
 * A query option that holds a NUL or a lone surrogate (`%00`, `%ED%A0%80`) can neither match nor be
 * stored: refused as a whole, before any option is parsed, as Graph refuses a malformed query.
 */
export function unstorableQuery(request: FastifyRequest): GraphErrorResponse | undefined {
  const query = request.query as Record<string, string | string[] | undefined> | null;
  if (!query) return undefined;
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value ?? ''];
    if (!isStorableText(name) || !values.every(isStorableText)) {
      return {
        status: 400,
        code: 'invalidRequest',
        message: 'The query contains a NUL character or an unpaired UTF-16 surrogate, which no option accepts.',
      };
    }
  }
  return undefined;
}
