import type { QuerySpec } from '../odata/query-options.js';

export const REQUEST_PROPERTIES = [
  'id',
  'createdDateTime',
  'contentType',
  'expectedAssessment',
  'category',
  'status',
  'requestSource',
  'createdBy',
  'recipientEmail',
  'messageUri',
  'destinationRoutingReason',
  'contentData',
  'fileName',
  'url',
] as const;

export const RESULT_PROPERTIES = ['id', 'createdDateTime', 'resultType', 'message'] as const;

/** Graph lists requests newest first and results oldest first. */
export const REQUESTS_QUERY: QuerySpec = {
  selectable: REQUEST_PROPERTIES,
  expandable: ['results'],
  defaultOrder: 'desc',
};
export const RESULTS_QUERY: QuerySpec = { selectable: RESULT_PROPERTIES, expandable: [], defaultOrder: 'asc' };

/**
 * The most results `$expand=results` writes into a request: a request may collect thousands, and a
 * response stays bounded; `results@odata.nextLink` leads to the rest.
 */
export const EXPANDED_RESULTS_LIMIT = 20;
