import type { FilterSpec } from '../odata/filter/index.js';
import { REQUEST_TYPES } from './request-types.js';
import {
  THREAT_ASSESSMENT_CONTENT_TYPES,
  THREAT_ASSESSMENT_REQUEST_SOURCES,
  THREAT_ASSESSMENT_RESULT_TYPES,
  THREAT_ASSESSMENT_STATUSES,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
} from './threat-assessment.enums.js';

/**
 * `$filter` on requests: `eq`, `ne` and `in` on the enum properties, comparisons on `createdDateTime`,
 * `isof` on the concrete type; each mapped to its column.
 */
export const REQUESTS_FILTER: FilterSpec = {
  fields: {
    contentType: { kind: 'enum', column: 'content_type', values: THREAT_ASSESSMENT_CONTENT_TYPES },
    expectedAssessment: { kind: 'enum', column: 'expected_assessment', values: THREAT_EXPECTED_ASSESSMENTS },
    category: { kind: 'enum', column: 'category', values: THREAT_CATEGORIES },
    status: { kind: 'enum', column: 'status', values: THREAT_ASSESSMENT_STATUSES },
    requestSource: { kind: 'enum', column: 'request_source', values: THREAT_ASSESSMENT_REQUEST_SOURCES },
    createdDateTime: { kind: 'dateTime', column: 'created_date_time' },
  },
  isof: {
    column: 'kind',
    types: Object.fromEntries(REQUEST_TYPES.map((type) => [`microsoft.graph.${type.kind}`, type.kind])),
  },
};

/** `$filter` on results: `eq`, `ne` and `in` on `resultType`, comparisons on `createdDateTime`. */
export const RESULTS_FILTER: FilterSpec = {
  fields: {
    resultType: { kind: 'enum', column: 'result_type', values: THREAT_ASSESSMENT_RESULT_TYPES },
    createdDateTime: { kind: 'dateTime', column: 'created_date_time' },
  },
};
