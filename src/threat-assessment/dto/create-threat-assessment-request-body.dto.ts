import { Polymorphic } from '../../common/validation/polymorphic-body.js';
import { CREATE_REQUEST_DTOS } from '../request-types.js';
import { ABSTRACT_REQUEST_ODATA_TYPE } from '../threat-assessment.enums.js';

/**
 * The body of "Create threatAssessmentRequest": abstract, resolved by `@odata.type` to one of the
 * registry's create DTOs by the global validation pipe.
 */
@Polymorphic({ property: '@odata.type', types: CREATE_REQUEST_DTOS, abstract: [ABSTRACT_REQUEST_ODATA_TYPE] })
export abstract class CreateThreatAssessmentRequestDto {}
