import { DomainError } from '../common/errors/domain-error.js';

/** Also raised for another tenant's request: to a caller, it does not exist. */
export class ThreatAssessmentRequestNotFoundError extends DomainError {
  readonly code = 'requestNotFound';

  constructor(readonly requestId: string) {
    super(`The threatAssessmentRequest '${requestId}' does not exist.`);
  }
}

export class ThreatAssessmentResultNotFoundError extends DomainError {
  readonly code = 'resultNotFound';

  constructor(
    readonly requestId: string,
    readonly resultId: string,
  ) {
    super(`The threatAssessmentResult '${resultId}' does not exist on threatAssessmentRequest '${requestId}'.`);
  }
}

/** Graph: `checkPolicy` is "the policy check result, only for mail assessment". */
export class CheckPolicyRequiresMailError extends DomainError {
  readonly code = 'checkPolicyRequiresMail';

  constructor(readonly contentType: string) {
    super(`resultType 'checkPolicy' is only for mail assessments; this request's contentType is '${contentType}'.`);
  }
}
