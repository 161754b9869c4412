import { randomFillSync } from 'node:crypto';

/** Randomness for this many ids is drawn at once: one call into the CSPRNG per 256 ids, as Node's randomUUID() batches. */
const IDS_PER_FILL = 256;
const pool = Buffer.allocUnsafe(16 * IDS_PER_FILL);
let offset = pool.length;

/**
 * RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then randomness. Time-ordered keys append to the
 * primary key's B-tree instead of scattering writes over it, and are still plain GUIDs on the wire.
 */
export function uuidv7(now: number = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += 16;
  pool.writeUIntBE(now, at, 6);
  pool[at + 6] = (pool[at + 6] & 0x0f) | 0x70;
  pool[at + 8] = (pool[at + 8] & 0x3f) | 0x80;
  const hex = pool.toString('hex', at, at + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
