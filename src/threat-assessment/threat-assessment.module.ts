import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SkipTokenCodec } from '../odata/skiptoken.js';
import { ThreatAssessmentRequestEntity } from './entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import { ThreatAssessmentRequestsController } from './threat-assessment-requests.controller.js';
import { ThreatAssessmentRequestsService } from './threat-assessment-requests.service.js';
import { ThreatAssessmentResultsController } from './threat-assessment-results.controller.js';
import { ThreatAssessmentResultsService } from './threat-assessment-results.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ThreatAssessmentRequestEntity, ThreatAssessmentResultEntity])],
  controllers: [ThreatAssessmentRequestsController, ThreatAssessmentResultsController],
  providers: [ThreatAssessmentRequestsService, ThreatAssessmentResultsService, SkipTokenCodec],
})
export class ThreatAssessmentModule {}
