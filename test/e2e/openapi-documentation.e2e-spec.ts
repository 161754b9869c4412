import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS_KEY, type RequiredPermissions } from '../../src/auth/permissions.decorator.js';
import { permissionsTable } from '../../src/common/openapi/api-graph-operation.decorator.js';
import { ThreatAssessmentRequestsController } from '../../src/threat-assessment/threat-assessment-requests.controller.js';
import { ThreatAssessmentResultsController } from '../../src/threat-assessment/threat-assessment-results.controller.js';
import { SubscriptionsController } from '../../src/notifications/subscriptions/subscriptions.controller.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Graph's reference titles for its operations, and the operation ids of Graph's own OpenAPI description. */
/** Where `@ApiOperation` keeps its options (`DECORATORS.API_OPERATION`, which the package does not export). */
const API_OPERATION = 'swagger/apiOperation';

const GRAPH_NAMES: Record<string, string> = {
  'informationProtection.CreateThreatAssessmentRequests': 'Create threatAssessmentRequest',
  'informationProtection.ListThreatAssessmentRequests': 'List threatAssessmentRequests',
  'informationProtection.threatAssessmentRequests.GetCount': 'Count threatAssessmentRequests',
  'informationProtection.GetThreatAssessmentRequests': 'Get threatAssessmentRequest',
  'informationProtection.DeleteThreatAssessmentRequests': 'Delete threatAssessmentRequest',
  'informationProtection.threatAssessmentRequests.CreateResults': 'Add results',
  'informationProtection.threatAssessmentRequests.CreateResultsRef': 'Add results ($ref form)',
  'informationProtection.threatAssessmentRequests.ListResults': 'List results',
  'informationProtection.threatAssessmentRequests.results.GetCount': 'Count results',
  'informationProtection.threatAssessmentRequests.GetResults': 'Get threatAssessmentResult',
  'subscriptions.subscription.CreateSubscription': 'Create subscription',
  'subscriptions.subscription.ListSubscription': 'List subscriptions',
  'subscriptions.subscription.GetSubscription': 'Get subscription',
  'subscriptions.subscription.UpdateSubscription': 'Update subscription',
  'subscriptions.subscription.DeleteSubscription': 'Delete subscription',
  'subscriptions.subscription.reauthorize': 'subscription: reauthorize',
};

describe('the OpenAPI document as documentation (Swagger UI)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const apiOperations = () =>
    [...t.openapi.validator.operationsByKey()].filter(([key]) => key.split(' ')[1].startsWith('/v1.0/'));

  it('names every API operation as Graph does: its operation id, its reference title, a description and a tag', () => {
    const named = apiOperations().map(([, operation]) => [operation.operationId, operation.summary]);
    expect(Object.fromEntries(named)).toEqual(GRAPH_NAMES);
    for (const [key, operation] of apiOperations()) {
      expect(operation.description, key).toMatch(/\S{20}/);
      expect(operation.tags, key).toEqual([expect.stringMatching(/^(threatAssessment(Request|Result)|subscription)$/)]);
    }
  });

  it('states on each operation exactly the permissions its guard enforces', () => {
    const documented = new Map(apiOperations().map(([, operation]) => [operation.operationId, operation.description]));
    const checked: string[] = [];
    for (const controller of [
      ThreatAssessmentRequestsController,
      ThreatAssessmentResultsController,
      SubscriptionsController,
    ]) {
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as unknown as Record<string, object>)[name];
        const permissions = Reflect.getMetadata(PERMISSIONS_KEY, handler) as RequiredPermissions | undefined;
        const operation = Reflect.getMetadata(API_OPERATION, handler) as { operationId?: string } | undefined;
        if (!permissions || !operation?.operationId) continue;
        expect(documented.get(operation.operationId), operation.operationId).toContain(permissionsTable(permissions));
        checked.push(operation.operationId);
      }
    }
    expect(checked.sort()).toEqual(Object.keys(GRAPH_NAMES).sort());
  });

  it('shows Graph’s examples for each of the four request types, on the create body and its 201', () => {
    const create = t.openapi.validator
      .operationsByKey()
      .get('POST /v1.0/informationProtection/threatAssessmentRequests')!;
    const kinds = [
      'mailAssessmentRequest',
      'emailFileAssessmentRequest',
      'fileAssessmentRequest',
      'urlAssessmentRequest',
    ];
    const examplesOf = (content: unknown) => Object.keys((content as { examples?: object }).examples ?? {});
    expect(examplesOf(create.requestBody!.content!['application/json'])).toEqual(kinds);
    expect(examplesOf(create.responses['201'].content!['application/json'])).toEqual(kinds);
  });

  it('shows only examples that validate against their schemas (objects closed: no undocumented property)', () => {
    expect(t.openapi.validator.exampleErrors()).toEqual([]);
  });
});
