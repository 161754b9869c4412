/**
 * The bodies POSTed to receivers (contract §6), built from outbox rows and the subscription as it is
 * when sent. Identifiers only: no resource data beyond ids, no validation tokens.
 */
import { REQUESTS_RESOURCE } from '../persistence/record-notifications.js';
import { type RequestKind, requestTypeOfKind } from '../../threat-assessment/request-types.js';

export const NOTIFICATION_CONTENT_TYPE = 'application/json; charset=utf-8';
export const RESULT_ODATA_TYPE = '#microsoft.graph.threatAssessmentResult';

/** What a payload needs of the subscription, read when the attempt starts. */
export interface PayloadSubscription {
  id: string;
  tenantId: string;
  clientState: string | null;
  expirationDateTime: Date;
}

export interface ChangeRow {
  id: string;
  event: string;
  requestId: string;
  resultId: string | null;
  requestKind: string;
}

export interface LifecycleRow {
  id: string;
  event: string;
}

export interface ChangeNotification {
  id: string;
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  changeType: string;
  resource: string;
  resourceData: { '@odata.type': string; '@odata.id': string; id: string };
  clientState: string | null;
  tenantId: string;
}

export interface LifecycleNotification {
  id: string;
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  tenantId: string;
  clientState: string | null;
  lifecycleEvent: string;
}

/** A `changeNotificationCollection`: one subscription's consecutive notifications, in order. */
export function changeNotificationCollection(
  subscription: PayloadSubscription,
  rows: readonly ChangeRow[],
): { value: ChangeNotification[] } {
  return { value: rows.map((row) => changeNotification(subscription, row)) };
}

export function lifecycleNotificationCollection(
  subscription: PayloadSubscription,
  rows: readonly LifecycleRow[],
): { value: LifecycleNotification[] } {
  return {
    value: rows.map((row) => ({
      id: row.id,
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: subscription.expirationDateTime.toISOString(),
      tenantId: subscription.tenantId,
      clientState: subscription.clientState,
      lifecycleEvent: row.event,
    })),
  };
}

function changeNotification(subscription: PayloadSubscription, row: ChangeRow): ChangeNotification {
  // Relative and without version: receivers fetch `{base}/v1.0/{resource}`.
  const request = `${REQUESTS_RESOURCE}/${row.requestId}`;
  const resource = row.resultId ? `${request}/results/${row.resultId}` : request;
  const odataType = row.resultId ? RESULT_ODATA_TYPE : requestTypeOfKind(row.requestKind as RequestKind).odataType;
  return {
    id: row.id,
    subscriptionId: subscription.id,
    subscriptionExpirationDateTime: subscription.expirationDateTime.toISOString(),
    changeType: row.event,
    resource,
    resourceData: { '@odata.type': odataType, '@odata.id': resource, id: row.resultId ?? row.requestId },
    clientState: subscription.clientState,
    tenantId: subscription.tenantId,
  };
}
