/**
 * Microsoft Graph's own examples for this API (its v1.0 reference pages), shown in the OpenAPI document
 * and Swagger UI. Requests are Graph's verbatim; responses are what this service answers to them:
 * its own origin in links, `status` `pending` at creation, the posted `fileName` echoed, an unsent
 * `destinationRoutingReason` as `null`, and times in milliseconds. The OpenAPI tests validate every
 * example against its schema.
 */

/** Links carry the service's configured origin (`PUBLIC_BASE_URL`); this one stands for it. */
const BASE = 'https://api.contoso.com/v1.0';
const CONTEXT = `${BASE}/$metadata#informationProtection/threatAssessmentRequests`;
const RONALD = { user: { id: 'c52ce8db-3e4b-4181-93c4-7d6b6bffaf60', displayName: 'Ronald Admin' } };
const MESSAGE_URI =
  'https://graph.microsoft.com/v1.0/users/c52ce8db-3e4b-4181-93c4-7d6b6bffaf60/messages/AAMkADU3MWUxOTU0LWNlOTEt=';

export const CREATE_REQUEST_EXAMPLES = {
  mailAssessmentRequest: {
    summary: 'Create a mail assessment request',
    value: {
      '@odata.type': '#microsoft.graph.mailAssessmentRequest',
      recipientEmail: 'tifc@contoso.com',
      expectedAssessment: 'block',
      category: 'spam',
      messageUri: MESSAGE_URI,
    },
  },
  emailFileAssessmentRequest: {
    summary: 'Create an email file assessment request',
    value: {
      '@odata.type': '#microsoft.graph.emailFileAssessmentRequest',
      recipientEmail: 'tifc@contoso.com',
      expectedAssessment: 'block',
      category: 'malware',
      // Graph's example elides the rest of the .eml ("....."); this is a whole, decodable one.
      contentData:
        'UmVjZWl2ZWQ6IGZyb20gTVcyUFIwME1CMDMxNC5uYW1wcmQwMC5wcm9kLm91dGxvb2suY29tDQpTdWJqZWN0OiB0ZXN0DQoNCmhlbGxv',
    },
  },
  fileAssessmentRequest: {
    summary: 'Create a file assessment request',
    value: {
      '@odata.type': '#microsoft.graph.fileAssessmentRequest',
      expectedAssessment: 'block',
      category: 'malware',
      fileName: 'test.txt',
      contentData: 'VGhpcyBpcyBhIHRlc3QgZmlsZQ==',
    },
  },
  urlAssessmentRequest: {
    summary: 'Create a URL assessment request',
    value: {
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
      url: 'http://test.com',
      expectedAssessment: 'block',
      category: 'phishing',
    },
  },
};

const MAIL = {
  '@odata.type': '#microsoft.graph.mailAssessmentRequest',
  id: '49c5ef5b-1f65-444a-e6b9-08d772ea2059',
  createdDateTime: '2019-11-27T03:30:18.689Z',
  contentType: 'mail',
  expectedAssessment: 'block',
  category: 'spam',
  status: 'pending',
  requestSource: 'administrator',
  createdBy: RONALD,
  recipientEmail: 'tifc@contoso.com',
  destinationRoutingReason: null,
  messageUri: MESSAGE_URI,
};
const EMAIL_FILE = {
  '@odata.type': '#microsoft.graph.emailFileAssessmentRequest',
  id: 'ab2ad9b3-2213-4091-ae0c-08d76ddbcacf',
  createdDateTime: '2019-11-20T17:05:06.408Z',
  contentType: 'mail',
  expectedAssessment: 'block',
  category: 'malware',
  status: 'pending',
  requestSource: 'administrator',
  createdBy: RONALD,
  recipientEmail: 'tifc@contoso.com',
  destinationRoutingReason: null,
  contentData: '',
};
const FILE = {
  '@odata.type': '#microsoft.graph.fileAssessmentRequest',
  id: '18406a56-7209-4720-a250-08d772fccdaa',
  createdDateTime: '2019-11-27T05:44:00.405Z',
  contentType: 'file',
  expectedAssessment: 'block',
  category: 'malware',
  status: 'pending',
  requestSource: 'administrator',
  createdBy: RONALD,
  fileName: 'test.txt',
  contentData: '',
};
const URL_REQUEST = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  id: '723c35be-8b5a-47ae-29c0-08d76ddb7f5b',
  createdDateTime: '2019-11-20T17:02:59.816Z',
  contentType: 'url',
  expectedAssessment: 'unblock',
  category: 'phishing',
  status: 'completed',
  requestSource: 'administrator',
  createdBy: RONALD,
  url: 'http://test.com',
};

const entity = (body: object) => ({ '@odata.context': `${CONTEXT}/$entity`, ...body });

export const CREATED_REQUEST_EXAMPLES = {
  mailAssessmentRequest: { summary: 'A mail assessment request', value: entity(MAIL) },
  emailFileAssessmentRequest: { summary: 'An email file assessment request', value: entity(EMAIL_FILE) },
  fileAssessmentRequest: { summary: 'A file assessment request', value: entity(FILE) },
  urlAssessmentRequest: {
    summary: 'A URL assessment request',
    value: entity({ ...URL_REQUEST, expectedAssessment: 'block', status: 'pending' }),
  },
};

export const REQUEST_LIST_EXAMPLE = {
  '@odata.context': CONTEXT,
  '@odata.nextLink': `${BASE}/informationProtection/threatAssessmentRequests?$skiptoken=eyJQYWdlQ29va2llIjoiPHJvdyBpZF9JZGVudGl0`,
  value: [
    MAIL,
    { ...EMAIL_FILE, status: 'completed', destinationRoutingReason: 'notJunk' },
    { ...FILE, status: 'completed' },
    URL_REQUEST,
  ],
};

const EXPANDED_ID = '11922306-b25b-4605-ff0d-08d772fcf996';
export const RESULT_EXAMPLES = [
  {
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    id: '63798129-a62c-4f9e-2c6d-08d772fcfb0e',
    createdDateTime: '2019-11-27T05:45:16.550Z',
    resultType: 'checkPolicy',
    message: 'No policy was hit.',
  },
  {
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    id: 'd38c2448-79eb-467e-2495-08d772fdb7d1',
    createdDateTime: '2019-11-27T05:50:33.243Z',
    resultType: 'rescan',
    message: 'Not Spam',
  },
];

export const GET_REQUEST_EXAMPLES = {
  urlAssessmentRequest: { summary: 'Get a URL assessment request', value: entity(URL_REQUEST) },
  expandedResults: {
    summary: 'Get a mail assessment request with $expand=results',
    value: {
      '@odata.context': `${CONTEXT}(results())/$entity`,
      ...MAIL,
      id: EXPANDED_ID,
      createdDateTime: '2019-11-27T05:45:14.096Z',
      category: 'phishing',
      status: 'completed',
      recipientEmail: 'tifc@a830edad9050849eqtpwbjzxodq.onmicrosoft.com',
      destinationRoutingReason: 'notJunk',
      'results@odata.context': `${BASE}/$metadata#informationProtection/threatAssessmentRequests('${EXPANDED_ID}')/microsoft.graph.mailAssessmentRequest/results`,
      results: RESULT_EXAMPLES,
    },
  },
};

/** The seed document's example ("Add results"), with a real result type and this service's context. */
export const ADD_RESULT_EXAMPLE = {
  '@odata.type': '#microsoft.graph.threatAssessmentResult',
  resultType: 'checkPolicy',
  message: 'No policy was hit.',
};
/** A verdict any request type takes (Graph's expanded example's second result). */
export const RESCAN_RESULT_EXAMPLE = {
  '@odata.type': '#microsoft.graph.threatAssessmentResult',
  resultType: 'rescan',
  message: 'Not Spam',
};
export const ADDED_RESULT_EXAMPLE = {
  '@odata.context': `${CONTEXT}('${EXPANDED_ID}')/results/$entity`,
  '@odata.type': '#microsoft.graph.threatAssessmentResult',
  id: '4a4c6bb3-6bb3-4a4c-b36b-4c4ab36b4c4a',
  createdDateTime: '2017-01-01T00:00:46.169Z',
  resultType: 'checkPolicy',
  message: 'No policy was hit.',
};

export const RESULT_LIST_EXAMPLE = {
  '@odata.context': `${CONTEXT}('${EXPANDED_ID}')/results`,
  value: RESULT_EXAMPLES,
};

export const GET_RESULT_EXAMPLE = {
  '@odata.context': `${CONTEXT}('${EXPANDED_ID}')/results/$entity`,
  ...RESULT_EXAMPLES[0],
};
