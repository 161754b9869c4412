import { Body, Controller, Delete, Get, Header, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiParam,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Caller, PERMISSIONS } from '../auth/caller.js';
import { CurrentCaller } from '../auth/current-caller.decorator.js';
import { RequirePermissions } from '../auth/permissions.decorator.js';
import { ApiGraphErrors, ERRORS_OF } from '../common/errors/api-graph-errors.decorator.js';
import { ApiGraphOperation } from '../common/openapi/api-graph-operation.decorator.js';
import { TakesFileContent } from '../common/http/body-limits.js';
import { PublicUrls } from '../common/http/public-url.js';
import { ApiIdempotencyKey, idempotencyClaim, idempotencyKeyOf } from '../idempotency/idempotency.js';
import { ParseGuidPipe } from '../common/validation/parse-guid.pipe.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiCollectionQuery, ApiExpandResults, ApiFilter, ApiSelect } from '../odata/api-query.decorators.js';
import { fitPage, PAGE_BUDGET_TEXT } from '../odata/page-budget.js';
import { parseCollectionQuery, parseCountQuery, parseItemQuery, type SortOrder } from '../odata/query-options.js';
import { project, selectionSuffix } from '../odata/select.js';
import { SkipTokenCodec } from '../odata/skiptoken.js';
import { CreateThreatAssessmentRequestDto } from './dto/create-threat-assessment-request-body.dto.js';
import { ThreatAssessmentRequestCollectionDto } from './dto/threat-assessment-collections.dto.js';
import {
  CREATE_REQUEST_EXAMPLES,
  CREATED_REQUEST_EXAMPLES,
  GET_REQUEST_EXAMPLES,
  REQUEST_LIST_EXAMPLE,
} from './dto/threat-assessment.examples.js';
import { type CreateThreatAssessmentRequestBody, REQUEST_TYPES, requestTypesSchema } from './request-types.js';
import { ThreatAssessmentRequestsService, type RequestWithResults } from './threat-assessment-requests.service.js';
import { toThreatAssessmentRequestDto, toThreatAssessmentResultDto } from './threat-assessment.mapper.js';
import {
  EXPANDED_RESULTS_LIMIT,
  REQUEST_PROPERTIES,
  RESULTS_QUERY,
  REQUESTS_QUERY,
} from './threat-assessment.query-specs.js';

export const REQUESTS_PATH = 'informationProtection/threatAssessmentRequests';

/**
 * What a `$skiptoken` of a request's results list is signed for. An expanded request's
 * `results@odata.nextLink` signs its position alike, so that the list continues where the expansion ends.
 */
export function resultsPageScope(tenantId: string, requestId: string, order: SortOrder, filter?: string): string[] {
  return [tenantId, `results:${requestId}`, order, filter ?? ''];
}

const FILTER_HELP =
  "OData filter on contentType, expectedAssessment, category, status, requestSource (eq, ne, in) and createdDateTime (eq, ne, gt, ge, lt, le), with and, or, not, parentheses and isof('microsoft.graph.urlAssessmentRequest').";

const READ = {
  delegated: [PERMISSIONS.readWrite],
  application: [PERMISSIONS.read, PERMISSIONS.readWrite],
};
const CREATE = { delegated: [PERMISSIONS.readWrite], application: [] };
const DELETE = { delegated: [PERMISSIONS.readWrite], application: [PERMISSIONS.readWrite] };

const TYPE_NAMES = REQUEST_TYPES.map((type) => `${type.label} (\`${type.odataType}\`)`);
const TYPES =
  'A threat assessment request can be one of the following types, selected by the `@odata.type` of the body: ' +
  `${TYPE_NAMES.slice(0, -1).join(', ')} and ${TYPE_NAMES.at(-1)}.`;
const REQUEST_ID = ApiParam({
  name: 'id',
  description: 'The unique identifier of threatAssessmentRequest (a GUID).',
  schema: { type: 'string', format: 'uuid' },
});
const LOCATION = {
  Location: {
    description: 'The URL of the new threatAssessmentRequest.',
    required: true,
    schema: { type: 'string', format: 'uri' },
  },
};
const ENTITY = requestTypesSchema('responseDto');
const EXPANDED =
  `With \`$expand=results\`, each request carries at most ${EXPANDED_RESULTS_LIMIT} results, oldest first; ` +
  'one with more also carries `results@odata.nextLink`, which continues on its results list.';

@ApiTags('threatAssessmentRequest')
@ApiBearerAuth()
@ApiExtraModels(...REQUEST_TYPES.map((type) => type.responseDto), ...REQUEST_TYPES.map((type) => type.createDto))
@Controller(`v1.0/${REQUESTS_PATH}`)
export class ThreatAssessmentRequestsController {
  constructor(
    private readonly requests: ThreatAssessmentRequestsService,
    private readonly skiptokens: SkipTokenCodec,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @TakesFileContent()
  @ApiIdempotencyKey()
  @HttpCode(201)
  @RequirePermissions(CREATE)
  @ApiGraphOperation({
    operationId: 'informationProtection.CreateThreatAssessmentRequests',
    summary: 'Create threatAssessmentRequest',
    description:
      `Create a new threat assessment request. ${TYPES} The request starts \`pending\` and becomes \`completed\` ` +
      'once a result is added. `contentData` is never stored in clear nor returned.',
    permissions: CREATE,
  })
  @ApiBody({
    description:
      'One of the four request types; `id`, `createdDateTime`, `status`, `contentType`, `requestSource` and `createdBy` are set by the service.',
    schema: requestTypesSchema('createDto'),
    examples: CREATE_REQUEST_EXAMPLES,
  })
  @ApiResponse({
    status: 201,
    description: 'Created: the new threatAssessmentRequest, with `Location`.',
    headers: LOCATION,
    content: { 'application/json': { schema: ENTITY, examples: CREATED_REQUEST_EXAMPLES } },
  })
  @ApiGraphErrors(ERRORS_OF.create)
  async create(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateThreatAssessmentRequestDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const claim = idempotencyClaim(
      idempotencyKeyOf(request),
      ['createRequest'],
      body,
      this.config.idempotencyTtlSeconds,
    );
    const { request: entity, replayed } = await this.requests.create(
      caller,
      body as CreateThreatAssessmentRequestBody,
      claim,
    );
    const urls = this.urls(request);
    void reply.header('location', urls.resource(`${REQUESTS_PATH}/${entity.id}`));
    if (replayed) void reply.header('idempotent-replayed', 'true');
    return { '@odata.context': urls.context(`${REQUESTS_PATH}/$entity`), ...toThreatAssessmentRequestDto(entity) };
  }

  @Get()
  @RequirePermissions(READ)
  @ApiGraphOperation({
    operationId: 'informationProtection.ListThreatAssessmentRequests',
    summary: 'List threatAssessmentRequests',
    description:
      `Retrieve a list of threatAssessmentRequest objects of the caller's tenant, newest first. ${TYPES} ` +
      `A page holds at most \`$top\` items and at most ${PAGE_BUDGET_TEXT} of them (so possibly fewer than \`$top\`), ` +
      `expanded results included; \`@odata.nextLink\` is present exactly when more exist. ${EXPANDED}`,
    permissions: READ,
  })
  @ApiCollectionQuery({
    properties: REQUEST_PROPERTIES,
    filter: FILTER_HELP,
    expand: { limit: EXPANDED_RESULTS_LIMIT },
    defaultOrder: 'desc',
  })
  @ApiOkResponse({
    description: 'OK: a page of threatAssessmentRequests.',
    type: ThreatAssessmentRequestCollectionDto,
    example: REQUEST_LIST_EXAMPLE,
  })
  @ApiGraphErrors(ERRORS_OF.list)
  async list(@CurrentCaller() caller: Caller, @Query() raw: Record<string, string>, @Req() request: FastifyRequest) {
    const query = parseCollectionQuery(raw, REQUESTS_QUERY);
    const scope = [caller.tenantId, 'requests', query.order, query.filter ?? ''];
    const after = query.skiptoken ? this.skiptokens.decode(query.skiptoken, scope) : undefined;
    const found = await this.requests.list(caller, query, after);
    const urls = this.urls(request);
    const page = fitPage(found, {
      wire: (item) => {
        const wire = project(this.toItem(item), query.select, query.expand);
        const more = this.moreResultsLink(urls, caller, item);
        return more ? { ...wire, ...more } : wire;
      },
      position: (item) => item.request,
    });
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}${selectionSuffix(query.select, query.expand)}`),
      ...(found.count !== undefined ? { '@odata.count': found.count } : {}),
      ...(page.next
        ? { '@odata.nextLink': urls.nextLink(REQUESTS_PATH, this.skiptokens.encode(page.next, scope)) }
        : {}),
      value: page.items,
    };
  }

  @Get('$count')
  @RequirePermissions(READ)
  @Header('content-type', 'text/plain; charset=utf-8')
  @ApiGraphOperation({
    operationId: 'informationProtection.threatAssessmentRequests.GetCount',
    summary: 'Count threatAssessmentRequests',
    description:
      "Get the number of threatAssessmentRequests of the caller's tenant that match `$filter`, as a `text/plain` integer.",
    permissions: READ,
  })
  @ApiFilter(FILTER_HELP)
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'OK: the number of requests, as text.',
    content: { 'text/plain': { schema: { type: 'integer', minimum: 0 }, example: 4 } },
  })
  @ApiGraphErrors(ERRORS_OF.list)
  async count(@CurrentCaller() caller: Caller, @Query() raw: Record<string, string>): Promise<string> {
    return String(await this.requests.count(caller, parseCountQuery(raw).filter));
  }

  @Get(':id')
  @RequirePermissions(READ)
  @ApiGraphOperation({
    operationId: 'informationProtection.GetThreatAssessmentRequests',
    summary: 'Get threatAssessmentRequest',
    description:
      `Retrieve the properties and relationships of a specified threatAssessmentRequest object. ${TYPES} ` +
      `Use \`$expand=results\` to retrieve the threat assessment results. ${EXPANDED}`,
    permissions: READ,
  })
  @REQUEST_ID
  @ApiSelect(REQUEST_PROPERTIES)
  @ApiExpandResults(EXPANDED_RESULTS_LIMIT)
  @ApiOkResponse({
    description: 'OK: the threatAssessmentRequest.',
    content: { 'application/json': { schema: ENTITY, examples: GET_REQUEST_EXAMPLES } },
  })
  @ApiGraphErrors(ERRORS_OF.read)
  async get(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) id: string,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
  ) {
    const query = parseItemQuery(raw, REQUESTS_QUERY);
    const found = await this.requests.get(caller, id, query.expand.includes('results'));
    const urls = this.urls(request);
    const item = project(this.toItem(found), query.select, query.expand);
    const expanded = found.results
      ? {
          'results@odata.context': urls.context(`${REQUESTS_PATH}('${id}')/${item['@odata.type']!.slice(1)}/results`),
          ...this.moreResultsLink(urls, caller, found),
        }
      : {};
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}${selectionSuffix(query.select, query.expand)}/$entity`),
      ...item,
      ...expanded,
    };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermissions(DELETE)
  @ApiGraphOperation({
    operationId: 'informationProtection.DeleteThreatAssessmentRequests',
    summary: 'Delete threatAssessmentRequest',
    description:
      "Delete a threatAssessmentRequest and its results. Graph's OpenAPI description has this operation; its reference pages do not.",
    permissions: DELETE,
  })
  @REQUEST_ID
  @ApiResponse({ status: 204, description: 'No Content: the request and its results are deleted.' })
  @ApiGraphErrors(ERRORS_OF.delete)
  async delete(@CurrentCaller() caller: Caller, @Param('id', new ParseGuidPipe('id')) id: string): Promise<void> {
    await this.requests.delete(caller, id);
  }

  private toItem({ request, results }: RequestWithResults) {
    const dto = toThreatAssessmentRequestDto(request);
    return results ? { ...dto, results: results.map(toThreatAssessmentResultDto) } : dto;
  }

  /** The results after the expanded ones: the next page of the request's results list, in its own order. */
  private moreResultsLink(urls: PublicUrls, caller: Caller, { request, moreResults }: RequestWithResults) {
    if (!moreResults) return undefined;
    const scope = resultsPageScope(caller.tenantId, request.id, RESULTS_QUERY.defaultOrder);
    const skiptoken = this.skiptokens.encode(moreResults, scope);
    return {
      'results@odata.nextLink': urls.resource(`${REQUESTS_PATH}/${request.id}/results?$skiptoken=${skiptoken}`),
    };
  }

  private urls(request: FastifyRequest): PublicUrls {
    return new PublicUrls(request, this.config.publicBaseUrl);
  }
}
