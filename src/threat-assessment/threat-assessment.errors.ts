import { DomainError, InvalidRequestError } from '../common/errors/domain-error.js';

/** Also raised for another tenant's request: to a caller, it does not exist. */
export class ThreatAssessmentRequestNotFoundError extends DomainError {
  constructor(readonly requestId: string) {
    super(`The threatAssessmentRequest '${requestId}' does not exist.`, { status: 404, code: 'itemNotFound' });
  }
}

export class ThreatAssessmentResultNotFoundError extends DomainError {
  constructor(
    readonly requestId: string,
    readonly resultId: string,
  ) {
    super(`The threatAssessmentResult '${resultId}' does not exist on threatAssessmentRequest '${requestId}'.`, {
      status: 404,
      code: 'itemNotFound',
    });
  }
}

/** Graph: `checkPolicy` is "the policy check result, only for mail assessment". */
export class CheckPolicyRequiresMailError extends InvalidRequestError {
  constructor(readonly contentType: string) {
    super(`resultType 'checkPolicy' is only for mail assessments; this request's contentType is '${contentType}'.`);
  }
}
