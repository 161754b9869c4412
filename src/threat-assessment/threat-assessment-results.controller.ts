import {
  applyDecorators,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Caller, PERMISSIONS } from '../auth/caller.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { RequirePermissions } from '../auth/permissions.decorator.js';
import { ApiGraphErrors, ERRORS_OF } from '../common/errors/api-graph-errors.decorator.js';
import { ApiGraphOperation } from '../common/openapi/api-graph-operation.decorator.js';
import { PublicUrls } from '../common/http/public-url.js';
import { ApiIdempotencyKey, idempotencyClaim, idempotencyKeyOf } from '../idempotency/idempotency.js';
import { ParseGuidPipe } from '../common/validation/parse-guid.pipe.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiCollectionQuery, ApiFilter, ApiSelect } from '../odata/api-query.decorators.js';
import { fitPage, PAGE_BUDGET_TEXT } from '../odata/page-budget.js';
import { parseCollectionQuery, parseCountQuery, parseItemQuery } from '../odata/query-options.js';
import { project, selectionSuffix } from '../odata/select.js';
import { SkipTokenCodec } from '../odata/skiptoken.js';
import { CreateThreatAssessmentResultDto } from './dto/create-threat-assessment-result.dto.js';
import { ThreatAssessmentResultCollectionDto } from './dto/threat-assessment-collections.dto.js';
import { ThreatAssessmentResultDto } from './dto/threat-assessment-responses.dto.js';
import {
  ADD_RESULT_EXAMPLE,
  ADDED_RESULT_EXAMPLE,
  GET_RESULT_EXAMPLE,
  RESCAN_RESULT_EXAMPLE,
  RESULT_LIST_EXAMPLE,
} from './dto/threat-assessment.examples.js';
import { ThreatAssessmentResultsService } from './threat-assessment-results.service.js';
import { toThreatAssessmentResultDto } from './threat-assessment.mapper.js';
import { RESULT_PROPERTIES, RESULTS_QUERY } from './threat-assessment.query-specs.js';
import { REQUESTS_PATH, resultsPageScope } from './threat-assessment-requests.controller.js';

const FILTER_HELP =
  'OData filter on resultType (eq, ne, in) and createdDateTime (eq, ne, gt, ge, lt, le), with and, or, not and parentheses.';
const REQUEST_ID = ApiParam({
  name: 'id',
  description: 'The unique identifier of threatAssessmentRequest (a GUID).',
  schema: { type: 'string', format: 'uuid' },
});

const READ = {
  delegated: [PERMISSIONS.readWrite],
  application: [PERMISSIONS.read, PERMISSIONS.readWrite],
};
// Assessment engines post verdicts as applications [ours].
const WRITE = { delegated: [PERMISSIONS.readWrite], application: [PERMISSIONS.readWrite] };

const ADD_RESULTS =
  'Add results by posting to the results collection. The result is recorded and the request moves to `completed` ' +
  'in one transaction. `checkPolicy` (the policy check result) is only for mail assessments; `id` and ' +
  '`createdDateTime` are assigned by the service. Assessment engines post their verdicts as applications.';
const ADD_RESULT_BODY = ApiBody({
  type: CreateThreatAssessmentResultDto,
  description: 'The threatAssessmentResult to record.',
  examples: {
    checkPolicy: { summary: 'A policy check result (mail assessments only)', value: ADD_RESULT_EXAMPLE },
    rescan: { summary: 'A rescan result (any request type)', value: RESCAN_RESULT_EXAMPLE },
  },
});
const ADDED = ApiCreatedResponse({
  description: 'Created: the new threatAssessmentResult, with `Location`.',
  type: ThreatAssessmentResultDto,
  headers: {
    Location: {
      description: 'The URL of the new threatAssessmentResult.',
      required: true,
      schema: { type: 'string', format: 'uri' },
    },
  },
  example: ADDED_RESULT_EXAMPLE,
});

/** Both routes of "Add results" (`…/results` and the seed's `…/results/$ref`): one operation, documented alike. */
const AddResultsEndpoint = (path: string, operation: { operationId: string; summary: string; description: string }) =>
  applyDecorators(
    Post(path),
    ApiIdempotencyKey(),
    HttpCode(201),
    RequirePermissions(WRITE),
    ApiGraphOperation({ ...operation, permissions: WRITE }),
    REQUEST_ID,
    ADD_RESULT_BODY,
    ADDED,
    ApiGraphErrors(ERRORS_OF.write),
  );

@ApiTags('threatAssessmentResult')
@ApiBearerAuth()
@Controller(`v1.0/${REQUESTS_PATH}/:id/results`)
export class ThreatAssessmentResultsController {
  constructor(
    private readonly results: ThreatAssessmentResultsService,
    private readonly skiptokens: SkipTokenCodec,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @AddResultsEndpoint('', {
    operationId: 'informationProtection.threatAssessmentRequests.CreateResults',
    summary: 'Add results',
    description: ADD_RESULTS,
  })
  async add(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Body() body: CreateThreatAssessmentResultDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const claim = idempotencyClaim(
      idempotencyKeyOf(request),
      ['addResult', requestId],
      body,
      this.config.idempotencyTtlSeconds,
    );
    const { result, replayed } = await this.results.add(caller, requestId, body, claim);
    const urls = this.urls(request);
    void reply.header('location', urls.resource(`${REQUESTS_PATH}/${requestId}/results/${result.id}`));
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results/$entity`),
      ...toThreatAssessmentResultDto(result),
    };
  }

  /** The seed document's request line; the same operation as POST …/results. */
  @AddResultsEndpoint('$ref', {
    operationId: 'informationProtection.threatAssessmentRequests.CreateResultsRef',
    summary: 'Add results ($ref form)',
    description: `The request line of the "Add results" document, \`POST …/results/$ref\`: the same operation as \`POST …/results\`. ${ADD_RESULTS}`,
  })
  addRef(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Body() body: CreateThreatAssessmentResultDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.add(caller, requestId, body, request, reply);
  }

  @Get()
  @RequirePermissions(READ)
  @ApiGraphOperation({
    operationId: 'informationProtection.threatAssessmentRequests.ListResults',
    summary: 'List results',
    description:
      'Retrieve the threatAssessmentResult objects of a threatAssessmentRequest, oldest first. ' +
      `A page holds at most \`$top\` items and at most ${PAGE_BUDGET_TEXT} of them (so possibly fewer than \`$top\`); ` +
      '`@odata.nextLink` is present exactly when more exist.',
    permissions: READ,
  })
  @REQUEST_ID
  @ApiCollectionQuery({ properties: RESULT_PROPERTIES, filter: FILTER_HELP, defaultOrder: 'asc' })
  @ApiOkResponse({
    description: 'OK: a page of threatAssessmentResults.',
    type: ThreatAssessmentResultCollectionDto,
    example: RESULT_LIST_EXAMPLE,
  })
  @ApiGraphErrors(ERRORS_OF.read)
  async list(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
  ) {
    const query = parseCollectionQuery(raw, RESULTS_QUERY);
    const scope = resultsPageScope(caller.tenantId, requestId, query.order, query.filter);
    const after = query.skiptoken ? this.skiptokens.decode(query.skiptoken, scope) : undefined;
    const found = await this.results.list(caller, requestId, query, after);
    const page = fitPage(found, {
      wire: (result) => project(toThreatAssessmentResultDto(result), query.select),
      position: (result) => result,
    });
    const urls = this.urls(request);
    const path = `${REQUESTS_PATH}/${requestId}/results`;
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results${selectionSuffix(query.select, [])}`),
      ...(found.count !== undefined ? { '@odata.count': found.count } : {}),
      ...(page.next ? { '@odata.nextLink': urls.nextLink(path, this.skiptokens.encode(page.next, scope)) } : {}),
      value: page.items,
    };
  }

  @Get('$count')
  @RequirePermissions(READ)
  @Header('content-type', 'text/plain; charset=utf-8')
  @ApiGraphOperation({
    operationId: 'informationProtection.threatAssessmentRequests.results.GetCount',
    summary: 'Count results',
    description:
      'Get the number of results of a threatAssessmentRequest that match `$filter`, as a `text/plain` integer.',
    permissions: READ,
  })
  @REQUEST_ID
  @ApiFilter(FILTER_HELP)
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'OK: the number of results, as text.',
    content: { 'text/plain': { schema: { type: 'integer', minimum: 0 }, example: 2 } },
  })
  @ApiGraphErrors(ERRORS_OF.read)
  async count(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Query() raw: Record<string, string>,
  ): Promise<string> {
    return String(await this.results.count(caller, requestId, parseCountQuery(raw).filter));
  }

  @Get(':resultId')
  @RequirePermissions(READ)
  @ApiGraphOperation({
    operationId: 'informationProtection.threatAssessmentRequests.GetResults',
    summary: 'Get threatAssessmentResult',
    description: 'Retrieve the properties of a threatAssessmentResult of a threatAssessmentRequest.',
    permissions: READ,
  })
  @REQUEST_ID
  @ApiParam({
    name: 'resultId',
    description: 'The unique identifier of threatAssessmentResult (a GUID).',
    schema: { type: 'string', format: 'uuid' },
  })
  @ApiSelect(RESULT_PROPERTIES)
  @ApiOkResponse({
    description: 'OK: the threatAssessmentResult.',
    type: ThreatAssessmentResultDto,
    example: GET_RESULT_EXAMPLE,
  })
  @ApiGraphErrors(ERRORS_OF.read)
  async get(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Param('resultId', new ParseGuidPipe('resultId')) resultId: string,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
  ) {
    const query = parseItemQuery(raw, RESULTS_QUERY);
    const result = await this.results.get(caller, requestId, resultId);
    return {
      '@odata.context': this.urls(request).context(
        `${REQUESTS_PATH}('${requestId}')/results${selectionSuffix(query.select, [])}/$entity`,
      ),
      ...project(toThreatAssessmentResultDto(result), query.select),
    };
  }

  private urls(request: FastifyRequest): PublicUrls {
    return new PublicUrls(request, this.config.publicBaseUrl);
  }
}
