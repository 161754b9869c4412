import { Module } from '@nestjs/common';
import { RequestsStore } from './persistence/requests.store.js';
import { ResultsStore } from './persistence/results.store.js';
import { ThreatAssessmentRequestsController } from './threat-assessment-requests.controller.js';
import { ThreatAssessmentRequestsService } from './threat-assessment-requests.service.js';
import { ThreatAssessmentResultsController } from './threat-assessment-results.controller.js';
import { ThreatAssessmentResultsService } from './threat-assessment-results.service.js';

@Module({
  controllers: [ThreatAssessmentRequestsController, ThreatAssessmentResultsController],
  providers: [ThreatAssessmentRequestsService, ThreatAssessmentResultsService, RequestsStore, ResultsStore],
})
export class ThreatAssessmentModule {}
