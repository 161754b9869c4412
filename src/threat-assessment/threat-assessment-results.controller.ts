import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Caller, PERMISSIONS } from '../auth/caller.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { RequirePermissions } from '../auth/permissions.decorator.js';
import { ApiGraphErrors, ERRORS_OF } from '../common/errors/api-graph-errors.decorator.js';
import { PublicUrls } from '../common/http/public-url.js';
import { idempotencyClaim, idempotencyKeyOf } from '../idempotency/idempotency.js';
import { ParseGuidPipe } from '../common/validation/parse-guid.pipe.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiCollectionQuery, ApiFilter, ApiSelect } from '../odata/api-query.decorators.js';
import { parseCollectionQuery, parseCountQuery, parseItemQuery } from '../odata/query-options.js';
import { project, selectionSuffix } from '../odata/select.js';
import { SkipTokenCodec } from '../odata/skiptoken.js';
import { CreateThreatAssessmentResultDto } from './dto/create-threat-assessment-result.dto.js';
import { ThreatAssessmentResultCollectionDto, ThreatAssessmentResultDto } from './dto/threat-assessment-responses.dto.js';
import { ThreatAssessmentResultsService } from './threat-assessment-results.service.js';
import { toThreatAssessmentResultDto } from './threat-assessment.mapper.js';
import { RESULT_PROPERTIES, RESULTS_QUERY } from './threat-assessment.query-specs.js';
import { REQUESTS_PATH } from './threat-assessment-requests.controller.js';

const FILTER_HELP =
  'OData filter on resultType (eq, ne, in) and createdDateTime (eq, ne, gt, ge, lt, le), with and, or, not and parentheses.';
const REQUEST_ID = ApiParam({ name: 'id', description: 'The threatAssessmentRequest id.', schema: { type: 'string', format: 'uuid' } });

const READ = {
  delegated: [PERMISSIONS.readWrite],
  application: [PERMISSIONS.read, PERMISSIONS.readWrite],
};
// Assessment engines post verdicts as applications [ours].
const WRITE = { delegated: [PERMISSIONS.readWrite], application: [PERMISSIONS.readWrite] };

@ApiTags('threatAssessmentResult')
@ApiBearerAuth()
@Controller(`v1.0/${REQUESTS_PATH}/:id/results`)
export class ThreatAssessmentResultsController {
  constructor(
    private readonly results: ThreatAssessmentResultsService,
    private readonly skiptokens: SkipTokenCodec,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermissions(WRITE)
  @ApiOperation({
    operationId: 'threatAssessmentRequests_AddResults',
    summary: 'Add results',
    description: 'Records a result and moves the request to `completed`, in one transaction.',
  })
  @REQUEST_ID
  @ApiCreatedResponse({ type: ThreatAssessmentResultDto })
  @ApiGraphErrors(ERRORS_OF.write)
  add(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Body() body: CreateThreatAssessmentResultDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.addResult(caller, requestId, body, request, reply);
  }

  /** The seed document's request line; the same operation as POST …/results. */
  @Post('$ref')
  @HttpCode(201)
  @RequirePermissions(WRITE)
  @ApiOperation({
    operationId: 'threatAssessmentRequests_AddResultsRef',
    summary: 'Add results (the seed document’s $ref form)',
    description: 'Alias of `POST …/results`, as the "Add results" document writes it.',
  })
  @REQUEST_ID
  @ApiCreatedResponse({ type: ThreatAssessmentResultDto })
  @ApiGraphErrors(ERRORS_OF.write)
  addRef(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Body() body: CreateThreatAssessmentResultDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.addResult(caller, requestId, body, request, reply);
  }

  @Get()
  @RequirePermissions(READ)
  @ApiOperation({ operationId: 'threatAssessmentRequests_ListResults', summary: 'List results' })
  @REQUEST_ID
  @ApiCollectionQuery({ properties: RESULT_PROPERTIES, filter: FILTER_HELP, expand: false, defaultOrder: 'asc' })
  @ApiOkResponse({ type: ThreatAssessmentResultCollectionDto })
  @ApiGraphErrors(ERRORS_OF.read)
  async list(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) requestId: string,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
  ) {
    const query = parseCollectionQuery(raw, RESULTS_QUERY);
    const scope = [caller.tenantId, `results:${requestId}`, query.order, query.filter ?? ''];
    const after = query.skiptoken ? this.skiptokens.decode(query.skiptoken, scope) : undefined;
    const page = await this.results.list(caller, requestId, query, after);
    const urls = this.urls(request);
    const path = `${REQUESTS_PATH}/${requestId}/results`;
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results${selectionSuffix(query.select, [])}`),
      ...(page.count !== undefined ? { '@odata.count': page.count } : {}),
      ...(page.next ? { '@odata.nextLink': urls.nextLink(path, this.skiptokens.encode(page.next, scope)) } : {}),
      value: page.items.map((result) => project(toThreatAssessmentResultDto(result), query.select)),
    };
  }

  @Get('$count')
  @RequirePermissions(READ)
  @Header('content-type', 'text/plain; charset=utf-8')
  @ApiOperation({ operationId: 'threatAssessmentRequests_CountResults', summary: 'Count results' })
  @REQUEST_ID
  @ApiFilter(FILTER_HELP)
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The number of results, as text.', content: { 'text/plain': { schema: { type: 'integer' } } } })
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
  @ApiOperation({ operationId: 'threatAssessmentRequests_GetResults', summary: 'Get threatAssessmentResult' })
  @REQUEST_ID
  @ApiParam({ name: 'resultId', description: 'The result id.', schema: { type: 'string', format: 'uuid' } })
  @ApiSelect(RESULT_PROPERTIES)
  @ApiOkResponse({ type: ThreatAssessmentResultDto })
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

  private async addResult(
    caller: Caller,
    requestId: string,
    body: CreateThreatAssessmentResultDto,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const claim = idempotencyClaim(idempotencyKeyOf(request), ['addResult', requestId], body, this.config.idempotencyTtlSeconds);
    const { result, replayed } = await this.results.add(caller, requestId, body, claim);
    const urls = this.urls(request);
    void reply.header('location', urls.resource(`${REQUESTS_PATH}/${requestId}/results/${result.id}`));
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results/$entity`),
      ...toThreatAssessmentResultDto(result),
    };
  }

  private urls(request: FastifyRequest): PublicUrls {
    return new PublicUrls(request, this.config.publicBaseUrl);
  }
}
