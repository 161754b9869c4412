import { describe, expect, it } from 'vitest';
import {
  changeNotificationCollection,
  lifecycleNotificationCollection,
  type PayloadSubscription,
} from './notification-payload.js';
import { REQUEST_KINDS } from '../../threat-assessment/request-types.js';

const SUBSCRIPTION: PayloadSubscription = {
  id: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
  tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
  clientState: 'secretClientValue',
  expirationDateTime: new Date('2026-01-03T18:23:45.935Z'),
};
const REQUEST_ID = '49c5ef5b-1f65-444a-e6b9-08d772ea2059';
const RESOURCE = `informationProtection/threatAssessmentRequests/${REQUEST_ID}`;

describe('changeNotificationCollection', () => {
  it('builds the contract’s example exactly: a request updated', () => {
    const body = changeNotificationCollection(SUBSCRIPTION, [
      {
        id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
        event: 'updated',
        requestId: REQUEST_ID,
        resultId: null,
        requestKind: 'mailAssessmentRequest',
      },
    ]);
    expect(JSON.stringify(body)).toBe(
      JSON.stringify({
        value: [
          {
            id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
            subscriptionId: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
            subscriptionExpirationDateTime: '2026-01-03T18:23:45.935Z',
            changeType: 'updated',
            resource: RESOURCE,
            resourceData: {
              '@odata.type': '#microsoft.graph.mailAssessmentRequest',
              '@odata.id': RESOURCE,
              id: REQUEST_ID,
            },
            clientState: 'secretClientValue',
            tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
          },
        ],
      }),
    );
  });

  it('names a result by its path below the request, with the result type and its own id', () => {
    const resultId = '0c6c2f9e-6d3c-4c57-9a8e-1f2b3c4d5e6f';
    const [notification] = changeNotificationCollection({ ...SUBSCRIPTION, clientState: null }, [
      { id: 'a', event: 'created', requestId: REQUEST_ID, resultId, requestKind: 'urlAssessmentRequest' },
    ]).value;
    expect(notification).toEqual({
      id: 'a',
      subscriptionId: SUBSCRIPTION.id,
      subscriptionExpirationDateTime: '2026-01-03T18:23:45.935Z',
      changeType: 'created',
      resource: `${RESOURCE}/results/${resultId}`,
      resourceData: {
        '@odata.type': '#microsoft.graph.threatAssessmentResult',
        '@odata.id': `${RESOURCE}/results/${resultId}`,
        id: resultId,
      },
      clientState: null,
      tenantId: SUBSCRIPTION.tenantId,
    });
  });

  it('types a request by its kind, through the registry, for every kind (deleted included)', () => {
    const body = changeNotificationCollection(
      SUBSCRIPTION,
      REQUEST_KINDS.map((kind, i) => ({
        id: String(i),
        event: 'deleted',
        requestId: REQUEST_ID,
        resultId: null,
        requestKind: kind,
      })),
    );
    expect(body.value.map((n) => n.resourceData['@odata.type'])).toEqual([
      '#microsoft.graph.mailAssessmentRequest',
      '#microsoft.graph.emailFileAssessmentRequest',
      '#microsoft.graph.fileAssessmentRequest',
      '#microsoft.graph.urlAssessmentRequest',
    ]);
    expect(body.value.map((n) => n.id)).toEqual(['0', '1', '2', '3']);
  });
});

describe('lifecycleNotificationCollection', () => {
  it('has Graph’s lifecycle shape: no changeType, resource or resourceData', () => {
    const body = lifecycleNotificationCollection(SUBSCRIPTION, [{ id: 'l-1', event: 'missed' }]);
    expect(JSON.stringify(body)).toBe(
      JSON.stringify({
        value: [
          {
            id: 'l-1',
            subscriptionId: SUBSCRIPTION.id,
            subscriptionExpirationDateTime: '2026-01-03T18:23:45.935Z',
            tenantId: SUBSCRIPTION.tenantId,
            clientState: 'secretClientValue',
            lifecycleEvent: 'missed',
          },
        ],
      }),
    );
  });
});
