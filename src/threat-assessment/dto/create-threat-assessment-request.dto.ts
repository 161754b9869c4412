import { ServerOwned } from '../../common/validation/polymorphic-body.js';
import {
  type MailDestinationRoutingReason,
  type ThreatCategory,
  type ThreatExpectedAssessment,
} from '../threat-assessment.enums.js';
import {
  CategoryField,
  ContentDataField,
  DestinationRoutingReasonField,
  ExpectedAssessmentField,
  FileNameField,
  HttpUrlField,
  ODataTypeField,
  RecipientEmailField,
} from './request-fields.decorators.js';

/** Fields the service assigns: sent by a client, they are ignored, never taken. */
const SERVER_OWNED = ['id', 'createdDateTime', 'status', 'contentType', 'requestSource', 'createdBy', 'results'];

@ServerOwned(...SERVER_OWNED)
export class CreateMailAssessmentRequestDto {
  @ODataTypeField('#microsoft.graph.mailAssessmentRequest')
  '@odata.type'!: '#microsoft.graph.mailAssessmentRequest';

  @ExpectedAssessmentField()
  expectedAssessment!: ThreatExpectedAssessment;

  @CategoryField()
  category!: ThreatCategory;

  @RecipientEmailField()
  recipientEmail!: string;

  @HttpUrlField(
    'The resource URI of the mail message for assessment.',
    'https://graph.microsoft.com/v1.0/users/c52ce8db-3e4b-4181-93c4-7d6b6bffaf60/messages/AAMkADU3MWUxOTU0LWNlOTEt=',
  )
  messageUri!: string;

  @DestinationRoutingReasonField()
  destinationRoutingReason?: MailDestinationRoutingReason;
}

@ServerOwned(...SERVER_OWNED)
export class CreateEmailFileAssessmentRequestDto {
  @ODataTypeField('#microsoft.graph.emailFileAssessmentRequest')
  '@odata.type'!: '#microsoft.graph.emailFileAssessmentRequest';

  @ExpectedAssessmentField()
  expectedAssessment!: ThreatExpectedAssessment;

  @CategoryField()
  category!: ThreatCategory;

  @RecipientEmailField()
  recipientEmail!: string;

  @ContentDataField(
    'Base64 encoded .eml email file content. It is not stored (only its size and SHA-256), so it cannot be read back: responses carry "".',
  )
  contentData!: string;

  @DestinationRoutingReasonField()
  destinationRoutingReason?: MailDestinationRoutingReason;
}

@ServerOwned(...SERVER_OWNED)
export class CreateFileAssessmentRequestDto {
  @ODataTypeField('#microsoft.graph.fileAssessmentRequest')
  '@odata.type'!: '#microsoft.graph.fileAssessmentRequest';

  @ExpectedAssessmentField()
  expectedAssessment!: ThreatExpectedAssessment;

  @CategoryField()
  category!: ThreatCategory;

  @FileNameField()
  fileName!: string;

  @ContentDataField(
    'Base64 encoded file content. It is not stored (only its size and SHA-256), so it cannot be read back: responses carry "".',
  )
  contentData!: string;
}

@ServerOwned(...SERVER_OWNED)
export class CreateUrlAssessmentRequestDto {
  @ODataTypeField('#microsoft.graph.urlAssessmentRequest')
  '@odata.type'!: '#microsoft.graph.urlAssessmentRequest';

  @ExpectedAssessmentField()
  expectedAssessment!: ThreatExpectedAssessment;

  @CategoryField()
  category!: ThreatCategory;

  @HttpUrlField('The URL string.', 'http://test.com')
  url!: string;
}
