import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { CreateThreatAssessmentRequestDto } from '../../threat-assessment/dto/create-threat-assessment-request-body.dto.js';
import { CreateUrlAssessmentRequestDto } from '../../threat-assessment/dto/create-threat-assessment-request.dto.js';
import { CreateThreatAssessmentResultDto } from '../../threat-assessment/dto/create-threat-assessment-result.dto.js';
import { InvalidBodyError } from '../errors/domain-error.js';
import { GraphValidationPipe } from './graph-validation.pipe.js';

const pipe = new GraphValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });
const RESULT = body(CreateThreatAssessmentResultDto);
// Abstract: Nest hands the pipe the class the handler declares, as it does here.
const REQUEST = body(CreateThreatAssessmentRequestDto as unknown as ArgumentMetadata['metatype']);

async function rejection(value: unknown, metadata: ArgumentMetadata): Promise<InvalidBodyError> {
  const error: unknown = await pipe.transform(value, metadata).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidBodyError);
  return error as InvalidBodyError;
}

describe('GraphValidationPipe, bodies', () => {
  it('answers an instance of the DTO holding the body', async () => {
    const dto = await pipe.transform({ resultType: 'rescan', message: 'clean' }, RESULT);
    expect(dto).toBeInstanceOf(CreateThreatAssessmentResultDto);
    expect({ ...(dto as object) }).toEqual({ resultType: 'rescan', message: 'clean' });
  });

  it('drops the fields the server owns, and never copies keys that reach the prototype chain', async () => {
    const sent = JSON.parse(
      '{"resultType":"rescan","message":"m","id":"x","createdDateTime":"y","constructor":"c","prototype":{"p":1},"__proto__":{"polluted":true}}',
    ) as object;
    const dto = (await pipe.transform(sent, RESULT)) as Record<string, unknown>;
    expect(Object.keys(dto).sort()).toEqual(['message', 'resultType']);
    expect(Object.getPrototypeOf(dto)).toBe(CreateThreatAssessmentResultDto.prototype);
    expect(dto.constructor).toBe(CreateThreatAssessmentResultDto);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses an unknown property and a broken rule, naming each', async () => {
    const error = await rejection({ resultType: 'nope', message: '', extra: 1 }, RESULT);
    expect(error.details.map((d) => d.target).sort()).toEqual(['extra', 'message', 'resultType']);
    expect(error.message).toMatch(/property extra should not exist/);
  });

  it('resolves a polymorphic body to its concrete type before validating it', async () => {
    const dto = await pipe.transform(
      {
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        url: 'http://test.com',
        expectedAssessment: 'block',
        category: 'phishing',
        status: 'completed',
      },
      REQUEST,
    );
    expect(dto).toBeInstanceOf(CreateUrlAssessmentRequestDto);
    expect(dto).not.toHaveProperty('status');
    await rejection(
      { '@odata.type': '#microsoft.graph.urlAssessmentRequest', url: 'not a url', expectedAssessment: 'block' },
      REQUEST,
    );
  });

  it('refuses a body that is not a JSON object', async () => {
    for (const value of [null, 'text', 3, [{ resultType: 'rescan', message: 'm' }]]) await rejection(value, RESULT);
  });

  it('leaves a body without a DTO class to Nest (as it came)', async () => {
    const value = { any: 'thing' };
    await expect(pipe.transform(value, body(Object))).resolves.toEqual(value);
  });
});
