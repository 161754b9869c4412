import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { LOCAL_SKIPTOKEN_KEY_FILE, loadOrCreateLocalKey } from '../auth/local-auth.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ODataQueryError } from './odata-query.error.js';

/** The position after the last item of a page: its `createdDateTime` (ms) and id. */
export interface KeysetPosition {
  createdDateTime: Date;
  id: string;
}

const VERSION = 1;

/**
 * `$skiptoken` values: an opaque keyset position, signed with HMAC-SHA256 over the position and a
 * fingerprint of what positions it (tenant, collection, order, filter). A token altered, or replayed
 * against another tenant, collection, order or filter, is refused.
 */
@Injectable()
export class SkipTokenCodec {
  private readonly key: Buffer;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.skiptokenSecret) {
      this.key = Buffer.from(config.skiptokenSecret, 'utf8');
    } else {
      // Development only (production requires the secret): a key kept beside the local signing key,
      // so that next links survive a restart of `npm start`.
      this.key = Buffer.from(loadOrCreateLocalKey(LOCAL_SKIPTOKEN_KEY_FILE), 'utf8');
      new Logger('SkipTokenCodec').warn(
        `SKIPTOKEN_SECRET is not set: using the development key in ${LOCAL_SKIPTOKEN_KEY_FILE}`,
      );
    }
  }

  encode(position: KeysetPosition, scope: readonly string[]): string {
    const payload = Buffer.from(
      JSON.stringify([VERSION, position.createdDateTime.getTime(), position.id]),
      'utf8',
    ).toString('base64url');
    return `${payload}.${this.sign(payload, scope)}`;
  }

  decode(token: string, scope: readonly string[]): KeysetPosition {
    const invalid = () =>
      new ODataQueryError('skiptoken', 'The $skiptoken is invalid, or does not belong to this query.');
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined || token.length > 512) throw invalid();
    // Compared as text: decoding first would accept other spellings of the same bytes (unused bits, stray characters).
    const expected = Buffer.from(this.sign(payload, scope), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    if (
      !Array.isArray(decoded) ||
      decoded[0] !== VERSION ||
      !Number.isSafeInteger(decoded[1]) ||
      typeof decoded[2] !== 'string'
    ) {
      throw invalid();
    }
    return { createdDateTime: new Date(decoded[1] as number), id: decoded[2] };
  }

  private sign(payload: string, scope: readonly string[]): string {
    const fingerprint = createHash('sha256').update(JSON.stringify(scope)).digest();
    return createHmac('sha256', this.key).update(fingerprint).update(payload).digest('base64url');
  }
}
