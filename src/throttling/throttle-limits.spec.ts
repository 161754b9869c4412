import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { GRAPH_LIMITS, limitsOf, NO_LIMITS } from './throttle-limits.js';

describe('limitsOf', () => {
  it('has no limits by default', () => {
    expect(limitsOf(loadConfig({}).throttle)).toEqual(NO_LIMITS);
  });

  it("takes Graph's limits from the graph preset", () => {
    expect(limitsOf(loadConfig({ THROTTLE_PRESET: 'graph' }).throttle)).toEqual(GRAPH_LIMITS);
  });

  it("replaces a preset's limits with those set one by one, an empty one meaning none", () => {
    const config = loadConfig({
      THROTTLE_PRESET: 'graph',
      THROTTLE_TENANT_LIMITS: '5/60, 50/3600',
      THROTTLE_RESOURCE_LIMITS: '',
      THROTTLE_RESULT_LIMITS: '100/60',
    });
    expect(limitsOf(config.throttle)).toEqual({
      tenant: [
        { count: 5, windowSeconds: 60 },
        { count: 50, windowSeconds: 3600 },
      ],
      resource: [],
      results: [{ count: 100, windowSeconds: 60 }],
    });
  });
});
