/**
 * At most `limit` requests in flight per destination host on this instance, so that a burst of
 * notifications cannot flood one receiver. Waiters are served in arrival order; a host with nothing in
 * flight is forgotten, so the map holds only busy hosts.
 */
export class HostConcurrencyLimiter {
  private readonly hosts = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`The concurrency limit must be a positive integer.`);
  }

  /** Resolves, once a slot is free, with the function that frees it (calling it again does nothing). */
  async acquire(host: string): Promise<() => void> {
    let entry = this.hosts.get(host);
    if (!entry) {
      entry = { active: 0, waiting: [] };
      this.hosts.set(host, entry);
    }
    if (entry.active < this.limit) {
      entry.active++;
    } else {
      const waiting = entry.waiting;
      // The slot passes straight from the releasing request to this one: `active` never drops below the limit in between.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    return this.releaser(host, entry);
  }

  private releaser(host: string, entry: { active: number; waiting: (() => void)[] }): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiting.shift();
      if (next) return next();
      entry.active--;
      if (entry.active === 0) this.hosts.delete(host);
    };
  }
}
