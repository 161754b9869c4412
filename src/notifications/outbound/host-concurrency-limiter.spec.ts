import { describe, expect, it } from 'vitest';
import { HostConcurrencyLimiter } from './host-concurrency-limiter.js';

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('HostConcurrencyLimiter', () => {
  it('grants the limit at once, queues the rest in arrival order and hands each freed slot to the next', async () => {
    const limiter = new HostConcurrencyLimiter(2);
    const granted: number[] = [];
    const releases = new Map<number, () => void>();
    for (const n of [1, 2, 3, 4]) {
      void limiter.acquire('a.example').then((release) => {
        granted.push(n);
        releases.set(n, release);
      });
    }
    await settled();
    expect(granted).toEqual([1, 2]);
    releases.get(2)!();
    await settled();
    expect(granted).toEqual([1, 2, 3]);
    releases.get(1)!();
    await settled();
    expect(granted).toEqual([1, 2, 3, 4]);
  });

  it('counts each host apart', async () => {
    const limiter = new HostConcurrencyLimiter(1);
    await limiter.acquire('a.example');
    let other = false;
    void limiter.acquire('b.example').then(() => (other = true));
    await settled();
    expect(other).toBe(true);
  });

  it('frees a slot once however often its release is called', async () => {
    const limiter = new HostConcurrencyLimiter(1);
    const release = await limiter.acquire('a.example');
    let second = false;
    let third = false;
    void limiter.acquire('a.example').then(() => (second = true));
    void limiter.acquire('a.example').then(() => (third = true));
    release();
    release();
    await settled();
    expect([second, third]).toEqual([true, false]);
  });

  it('starts afresh for a host once it is idle', async () => {
    const limiter = new HostConcurrencyLimiter(1);
    (await limiter.acquire('a.example'))();
    let again = false;
    void limiter.acquire('a.example').then(() => (again = true));
    await settled();
    expect(again).toBe(true);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new HostConcurrencyLimiter(0)).toThrow('The concurrency limit must be a positive integer.');
    expect(() => new HostConcurrencyLimiter(1.5)).toThrow('The concurrency limit must be a positive integer.');
  });
});
