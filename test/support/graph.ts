import { expect } from 'vitest';
import type { Response } from 'supertest';

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts Graph's error envelope, the correlation headers, and that nothing internal leaked. */
export function expectGraphError(res: Response, status: number, code: string, message?: RegExp) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['request-id']).toMatch(GUID);
  expect(res.headers['client-request-id']).toBeTruthy();
  const { error } = res.body as { error: Record<string, unknown> };
  expect(Object.keys(res.body as object)).toEqual(['error']);
  expect(error.code).toBe(code);
  expect(typeof error.message).toBe('string');
  if (message) expect(error.message).toMatch(message);
  expect(error.innerError).toEqual({
    date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
    'request-id': res.headers['request-id'],
    'client-request-id': res.headers['client-request-id'],
  });
  // SQL keywords in capitals, as drivers echo statements; prose may say "select".
  expect(res.text).not.toMatch(/\bat \S+ \(|QueryFailedError|node_modules|\bstack\b/i);
  expect(res.text).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE) [^"]*\b(FROM|INTO|SET)\b|SQLSTATE|violates/);
  if (status === 401) expect(res.headers['www-authenticate']).toBe('Bearer');
}

export const MAIL_REQUEST = {
  '@odata.type': '#microsoft.graph.mailAssessmentRequest',
  recipientEmail: 'tifc@contoso.com',
  expectedAssessment: 'block',
  category: 'spam',
  messageUri:
    'https://graph.microsoft.com/v1.0/users/c52ce8db-3e4b-4181-93c4-7d6b6bffaf60/messages/AAMkADU3MWUxOTU0LWNlOTEt=',
};
export const EMAIL_FILE_REQUEST = {
  '@odata.type': '#microsoft.graph.emailFileAssessmentRequest',
  recipientEmail: 'tifc@contoso.com',
  expectedAssessment: 'block',
  category: 'malware',
  contentData: Buffer.from('Received: from MW2PR00MB0314.namprd00.prod.outlook.com\r\n\r\nhello').toString('base64'),
};
export const FILE_REQUEST = {
  '@odata.type': '#microsoft.graph.fileAssessmentRequest',
  expectedAssessment: 'block',
  category: 'malware',
  fileName: 'test.txt',
  contentData: 'VGhpcyBpcyBhIHRlc3QgZmlsZQ==',
};
export const URL_REQUEST = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  url: 'http://test.com',
  expectedAssessment: 'block',
  category: 'phishing',
};
