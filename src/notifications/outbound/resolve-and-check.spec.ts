import { describe, expect, it, vi } from 'vitest';
import { AddressPolicy } from './address-policy.js';
import { type HostResolver, resolveAndCheck } from './resolve-and-check.js';

const policy = new AddressPolicy();
const answering = (...addresses: string[]) =>
  vi.fn<HostResolver>(() => Promise.resolve(addresses.map((address) => ({ address }))));
const failing = (code: string) =>
  vi.fn<HostResolver>(() => Promise.reject(Object.assign(new Error(`lookup failed`), { code })));
const hostOf = (url: string) => new URL(url).hostname;

describe('resolveAndCheck', () => {
  it('returns every address of a name when all are public', async () => {
    const resolve = answering('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c');
    expect(await resolveAndCheck('engine.example.com', policy, resolve)).toEqual({
      outcome: 'checked',
      addresses: [
        { address: '93.184.215.14', family: 4 },
        { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
      ],
    });
    expect(resolve).toHaveBeenCalledExactlyOnceWith('engine.example.com');
  });

  it('refuses a name with one public and one private address, naming the private one', async () => {
    expect(await resolveAndCheck('engine.example.com', policy, answering('93.184.215.14', '10.0.0.7'))).toEqual({
      outcome: 'refused-address',
      address: '10.0.0.7',
    });
    expect(await resolveAndCheck('engine.example.com', policy, answering('::ffff:169.254.169.254', '8.8.8.8'))).toEqual(
      {
        outcome: 'refused-address',
        address: '::ffff:169.254.169.254',
      },
    );
  });

  it.each([
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0x7f000001/',
    'https://0x7f.1/',
    'https://0177.0.0.1/',
    'https://0177.0.0.01/',
    'https://127.1/',
    'https://127.0.1/',
    'https://0x7f.1./',
    'https://0/',
    'https://169.254.169.254/',
    'https://0xa9fea9fe/',
    'https://0251.0376.0251.0376/',
    'https://10.1/',
    'https://[::1]/',
    'https://[0:0:0:0:0:0:0:1]/',
    'https://[::]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:7f00:1]/',
    'https://[::ffff:a9fe:a9fe]/',
    'https://[64:ff9b::7f00:1]/',
    'https://[64:ff9b::127.0.0.1]/',
    'https://[fe80::1]/',
    'https://[fd12:3456::1]/',
  ])('refuses %s as the address it normalises to, without a lookup', async (url) => {
    const resolve = answering('93.184.215.14');
    expect(await resolveAndCheck(hostOf(url), policy, resolve)).toMatchObject({ outcome: 'refused-address' });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('takes a public IP literal as it is, without a lookup', async () => {
    const resolve = answering('10.0.0.1');
    expect(await resolveAndCheck(hostOf('https://[2001:4860:4860::8888]/'), policy, resolve)).toEqual({
      outcome: 'checked',
      addresses: [{ address: '2001:4860:4860::8888', family: 6 }],
    });
    expect(await resolveAndCheck(hostOf('https://134744072/'), policy, resolve)).toEqual({
      outcome: 'checked',
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('passes what an allowed host resolves to, whatever it is', async () => {
    const allowing = new AddressPolicy({ allowedHosts: ['hooks.internal.example'] });
    expect(await resolveAndCheck('HOOKS.internal.example', allowing, answering('10.0.0.7', '127.0.0.1'))).toEqual({
      outcome: 'checked',
      addresses: [
        { address: '10.0.0.7', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    expect(await resolveAndCheck('other.internal.example', allowing, answering('10.0.0.7'))).toMatchObject({
      outcome: 'refused-address',
    });
  });

  it('passes addresses in the allowed CIDRs', async () => {
    const testing = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'] });
    expect(await resolveAndCheck('localhost', testing, answering('::1', '127.0.0.1'))).toMatchObject({
      outcome: 'checked',
    });
    expect(await resolveAndCheck('[::1]', testing)).toMatchObject({ outcome: 'checked' });
  });

  it('refuses an answer that is not an IP address, even for an allowed host', async () => {
    const allowing = new AddressPolicy({ allowedHosts: ['hooks.internal.example'] });
    expect(await resolveAndCheck('hooks.internal.example', allowing, answering('not-an-address'))).toEqual({
      outcome: 'refused-address',
      address: 'not-an-address',
    });
  });

  it('reports lookup failures and empty answers as DNS errors', async () => {
    expect(await resolveAndCheck('missing.example', policy, failing('ENOTFOUND'))).toEqual({
      outcome: 'dns-error',
      code: 'ENOTFOUND',
    });
    expect(await resolveAndCheck('flaky.example', policy, failing('EAI_AGAIN'))).toEqual({
      outcome: 'dns-error',
      code: 'EAI_AGAIN',
    });
    expect(await resolveAndCheck('empty.example', policy, answering())).toEqual({
      outcome: 'dns-error',
      code: 'ENODATA',
    });
  });
});
