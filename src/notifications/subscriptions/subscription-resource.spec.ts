import { describe, expect, it } from 'vitest';
import { parseChangeTypes, parseResource } from './subscription-resource.js';

const ID = '49C5EF5B-1F65-444A-E6B9-08D772EA2059';
const RESULTS = `informationProtection/threatAssessmentRequests/${ID.toLowerCase()}/results`;

describe('parseResource', () => {
  it.each([
    'informationProtection/threatAssessmentRequests',
    '/informationProtection/threatAssessmentRequests',
    'INFORMATIONPROTECTION/threatassessmentrequests',
  ])('reads %s as the requests collection', (input) => {
    expect(parseResource(input)).toEqual({
      kind: 'requests',
      canonical: 'informationProtection/threatAssessmentRequests',
    });
  });

  it.each([
    `informationProtection/threatAssessmentRequests/${ID}/results`,
    `/informationprotection/ThreatAssessmentRequests/${ID}/Results`,
    `informationProtection/threatAssessmentRequests('${ID}')/results`,
  ])('reads %s as one request results, with the id in lower case', (input) => {
    expect(parseResource(input)).toEqual({ kind: 'results', canonical: RESULTS, requestId: ID.toLowerCase() });
  });

  it.each([
    'https://graph.microsoft.com/v1.0/informationProtection/threatAssessmentRequests',
    'v1.0/informationProtection/threatAssessmentRequests',
    'informationProtection/threatAssessmentRequests/',
    'informationProtection/threatAssessmentRequests?$filter=x',
    '//informationProtection/threatAssessmentRequests',
    'informationProtection/threatAssessmentRequests/not-a-guid/results',
    `informationProtection/threatAssessmentRequests/${ID}`,
    `informationProtection/threatAssessmentRequests/${ID}/results/x`,
    `informationProtection/threatAssessmentRequests("${ID}")/results`,
    'me/messages',
    '',
  ])('refuses %s', (input) => {
    expect(parseResource(input)).toBeUndefined();
  });
});

describe('parseChangeTypes', () => {
  it('trims, sorts and accepts what the resource allows', () => {
    expect(parseChangeTypes(' updated ,created', 'requests')).toEqual({
      ok: true,
      changeTypes: ['created', 'updated'],
    });
    expect(parseChangeTypes('deleted', 'requests')).toEqual({ ok: true, changeTypes: ['deleted'] });
    expect(parseChangeTypes('created', 'results')).toEqual({ ok: true, changeTypes: ['created'] });
  });

  it.each([
    ['updated', 'results'],
    ['Created', 'requests'],
    ['created,created', 'requests'],
    ['created,', 'requests'],
    ['', 'requests'],
    ['moved', 'requests'],
  ] as const)('refuses %s on %s', (input, kind) => {
    expect(parseChangeTypes(input, kind).ok).toBe(false);
  });
});
