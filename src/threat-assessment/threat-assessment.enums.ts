/** Graph's enum members, spelled exactly as on the wire: strict clients parse them verbatim. */
export const THREAT_CATEGORIES = ['undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue'] as const;
export type ThreatCategory = (typeof THREAT_CATEGORIES)[number];

export const THREAT_EXPECTED_ASSESSMENTS = ['block', 'unblock'] as const;
export type ThreatExpectedAssessment = (typeof THREAT_EXPECTED_ASSESSMENTS)[number];

export const THREAT_ASSESSMENT_CONTENT_TYPES = ['mail', 'url', 'file'] as const;
export type ThreatAssessmentContentType = (typeof THREAT_ASSESSMENT_CONTENT_TYPES)[number];

export const THREAT_ASSESSMENT_STATUSES = ['pending', 'completed'] as const;
export type ThreatAssessmentStatus = (typeof THREAT_ASSESSMENT_STATUSES)[number];

export const THREAT_ASSESSMENT_REQUEST_SOURCES = ['undefined', 'user', 'administrator'] as const;
export type ThreatAssessmentRequestSource = (typeof THREAT_ASSESSMENT_REQUEST_SOURCES)[number];

export const THREAT_ASSESSMENT_RESULT_TYPES = ['checkPolicy', 'rescan', 'unknownFutureValue'] as const;
export type ThreatAssessmentResultType = (typeof THREAT_ASSESSMENT_RESULT_TYPES)[number];

export const MAIL_DESTINATION_ROUTING_REASONS = [
  'none',
  'mailFlowRule',
  'safeSender',
  'blockedSender',
  'advancedSpamFiltering',
  'domainAllowList',
  'domainBlockList',
  'notInAddressBook',
  'firstTimeSender',
  'autoPurgeToInbox',
  'autoPurgeToJunk',
  'autoPurgeToDeleted',
  'outbound',
  'notJunk',
  'junk',
  'unknownFutureValue',
] as const;
export type MailDestinationRoutingReason = (typeof MAIL_DESTINATION_ROUTING_REASONS)[number];

export const RESULT_ODATA_TYPE = '#microsoft.graph.threatAssessmentResult';
export const ABSTRACT_REQUEST_ODATA_TYPE = '#microsoft.graph.threatAssessmentRequest';
