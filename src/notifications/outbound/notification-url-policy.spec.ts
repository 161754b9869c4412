import { describe, expect, it } from 'vitest';
import { checkNotificationUrl } from './notification-url-policy.js';

const httpsOnly = { allowHttp: false };
const INVALID = { ok: false, reason: 'invalid-url', message: 'NotificationUrl is not a valid absolute URL.' };

describe('checkNotificationUrl', () => {
  it('takes an absolute https URL with any port and a query', () => {
    const verdict = checkNotificationUrl('https://engine.example.com:8443/hooks/ta?src=prod&k=%20v', httpsOnly);
    expect(verdict).toMatchObject({ ok: true });
    expect(verdict.ok && verdict.url.href).toBe('https://engine.example.com:8443/hooks/ta?src=prod&k=%20v');
  });

  it("refuses http with Graph's message unless allowed", () => {
    expect(checkNotificationUrl('http://engine.example.com/hook', httpsOnly)).toEqual({
      ok: false,
      reason: 'unsupported-scheme',
      message: "NotificationUrl scheme='http' is not supported.",
    });
    expect(checkNotificationUrl('HTTP://engine.example.com/hook', httpsOnly)).toMatchObject({
      message: "NotificationUrl scheme='http' is not supported.",
    });
    expect(checkNotificationUrl('http://engine.example.com/hook', { allowHttp: true })).toMatchObject({ ok: true });
  });

  it('names any other scheme, even when http is allowed', () => {
    for (const [input, scheme] of [
      ['ftp://engine.example.com/', 'ftp'],
      ['wss://engine.example.com/', 'wss'],
      ['file:///etc/passwd', 'file'],
      ['javascript:alert(1)', 'javascript'],
    ]) {
      expect(checkNotificationUrl(input, { allowHttp: true }), input).toEqual({
        ok: false,
        reason: 'unsupported-scheme',
        message: `NotificationUrl scheme='${scheme}' is not supported.`,
      });
    }
  });

  it('refuses what is not an absolute URL', () => {
    for (const input of [
      '',
      'engine.example.com/hook',
      '/hooks/ta',
      '//engine.example.com/',
      'https://',
      'https://[::1/',
    ]) {
      expect(checkNotificationUrl(input, httpsOnly), input).toEqual(INVALID);
    }
  });

  it('refuses forms the URL parser would repair: no authority, backslashes, whitespace and control characters', () => {
    for (const input of [
      'https:engine.example.com/hook',
      'https:/engine.example.com/hook',
      'https:///engine.example.com/hook',
      'https:\\\\engine.example.com\\hook',
      'https://engine.example.com\\@evil.example/',
      ' https://engine.example.com/',
      'https://engine.example.com/\n',
      'https://engine.exa\tmple.com/',
      'https://engine.example.com/a b',
      'https://engine.example.com/\u0000',
    ]) {
      expect(checkNotificationUrl(input, httpsOnly), JSON.stringify(input)).toEqual(INVALID);
    }
  });

  it('refuses user info, even empty', () => {
    for (const input of [
      'https://user:pass@engine.example.com/',
      'https://user@engine.example.com/',
      'https://@engine.example.com/',
    ]) {
      expect(checkNotificationUrl(input, httpsOnly), input).toEqual(INVALID);
    }
    expect(checkNotificationUrl('https://engine.example.com/a@b?c=d@e', httpsOnly)).toMatchObject({ ok: true });
  });

  it('refuses a fragment, even empty', () => {
    expect(checkNotificationUrl('https://engine.example.com/hook#part', httpsOnly)).toEqual(INVALID);
    expect(checkNotificationUrl('https://engine.example.com/hook#', httpsOnly)).toEqual(INVALID);
  });

  it('takes 2,048 characters and refuses 2,049', () => {
    const base = 'https://engine.example.com/';
    expect(checkNotificationUrl(base + 'a'.repeat(2048 - base.length), httpsOnly)).toMatchObject({ ok: true });
    expect(checkNotificationUrl(base + 'a'.repeat(2049 - base.length), httpsOnly)).toEqual(INVALID);
  });

  it('normalises numeric hosts as the WHATWG parser does, for the address policy to see what they are', () => {
    const host = (input: string) => {
      const verdict = checkNotificationUrl(input, httpsOnly);
      return verdict.ok ? verdict.url.hostname : verdict.message;
    };
    expect(host('https://2130706433/')).toBe('127.0.0.1');
    expect(host('https://0x7f.1/')).toBe('127.0.0.1');
    expect(host('https://0177.0.0.1/')).toBe('127.0.0.1');
    expect(host('https://[::ffff:127.0.0.1]/')).toBe('[::ffff:7f00:1]');
    expect(host('https://[fe80::1%25eth0]/')).toBe('NotificationUrl is not a valid absolute URL.');
  });
});
