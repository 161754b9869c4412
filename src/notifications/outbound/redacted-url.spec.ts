import { describe, expect, it } from 'vitest';
import { redactedUrl } from './redacted-url.js';

describe('redactedUrl', () => {
  it('keeps scheme, host, port and path, and shows only that a query was there', () => {
    expect(redactedUrl(new URL('https://engine.example.com:8443/hooks/ta?token=s3cret&src=prod'))).toBe(
      'https://engine.example.com:8443/hooks/ta?<redacted>',
    );
    expect(redactedUrl(new URL('https://[::1]/hooks'))).toBe('https://[::1]/hooks');
  });
});
