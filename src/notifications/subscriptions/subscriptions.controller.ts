import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Caller, PERMISSIONS } from '../../auth/caller.js';
import { CurrentCaller } from '../../auth/current-caller.decorator.js';
import { RequirePermissions } from '../../auth/permissions.decorator.js';
import { NotSupportedError } from '../../common/errors/domain-error.js';
import { ApiGraphErrors, ERRORS_OF } from '../../common/errors/api-graph-errors.decorator.js';
import { PublicUrls } from '../../common/http/public-url.js';
import { ApiGraphOperation } from '../../common/openapi/api-graph-operation.decorator.js';
import { ParseGuidPipe } from '../../common/validation/parse-guid.pipe.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { SkipTokenCodec } from '../../odata/skiptoken.js';
import { CreateSubscriptionDto } from './dto/create-subscription.dto.js';
import { SubscriptionCollectionDto, SubscriptionEntityResponseDto } from './dto/subscription.dto.js';
import { UpdateSubscriptionDto } from './dto/update-subscription.dto.js';
import { toSubscriptionDto } from './subscription.mapper.js';
import { SubscriptionsService } from './subscriptions.service.js';

const PATH = 'subscriptions';
const PAGE_SIZE = 100;

/** Graph: managing a subscription needs the permission to read its resource. */
const PERMITTED = {
  delegated: [PERMISSIONS.readWrite],
  application: [PERMISSIONS.read, PERMISSIONS.readWrite],
};

const SUBSCRIPTION_ID = ApiParam({
  name: 'id',
  description: 'The unique identifier of the subscription (a GUID).',
  schema: { type: 'string', format: 'uuid' },
});

const EXAMPLE = {
  '@odata.context': 'https://api.example.com/v1.0/$metadata#subscriptions/$entity',
  id: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
  resource: 'informationProtection/threatAssessmentRequests',
  changeType: 'created,updated',
  notificationUrl: 'https://engine.example.com/hooks/ta?src=prod',
  lifecycleNotificationUrl: null,
  expirationDateTime: '2026-01-03T18:23:45.935Z',
  clientState: 'secretClientValue',
  includeResourceData: false,
  applicationId: '24d3b144-21ae-4080-943f-7067b395b913',
  creatorId: '8ee44408-0679-472c-bc2a-692812af3437',
  latestSupportedTlsVersion: 'v1_2',
  encryptionCertificate: null,
  encryptionCertificateId: null,
  notificationUrlAppId: null,
  notificationQueryOptions: null,
  notificationContentType: 'application/json',
};

const HANDSHAKE =
  'Before answering, the service POSTs `{notificationUrl}?validationToken={token}` (and to `lifecycleNotificationUrl` ' +
  'when it differs) and expects, within 10 s, `200` with `text/plain` and exactly the decoded token as the body; ' +
  'otherwise 400 `ValidationError` and nothing is stored.';

@ApiTags('subscription')
@ApiBearerAuth()
@Controller(`v1.0/${PATH}`)
export class SubscriptionsController {
  constructor(
    private readonly subscriptions: SubscriptionsService,
    private readonly skiptokens: SkipTokenCodec,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.CreateSubscription',
    summary: 'Create subscription',
    description:
      'Subscribe to changes of threat assessment requests (`created`, `updated`, `deleted`) or of one request results ' +
      `(\`created\`). ${HANDSHAKE} Changes whose transaction starts after the 201 are notified. At most ` +
      'NOTIFICATIONS_MAX_PER_TENANT active subscriptions per tenant and NOTIFICATIONS_MAX_PER_APP per application ' +
      '(403 `quotaLimitReached`); the same application, user, resource and change types twice is 409 `conflict`.',
    permissions: PERMITTED,
  })
  @ApiBody({ type: CreateSubscriptionDto })
  @ApiCreatedResponse({
    description: 'Created: the subscription, with `Location`.',
    type: SubscriptionEntityResponseDto,
    headers: {
      Location: {
        description: 'The URL of the subscription.',
        required: true,
        schema: { type: 'string', format: 'uri' },
      },
    },
    example: EXAMPLE,
  })
  @ApiGraphErrors(ERRORS_OF.subscriptionWrite)
  async create(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateSubscriptionDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const row = await this.subscriptions.create(caller, body, request.id);
    const urls = this.urls(request);
    void reply.header('location', urls.resource(`${PATH}/${row.id}`));
    return { '@odata.context': urls.context(`${PATH}/$entity`), ...toSubscriptionDto(row, { withClientState: true }) };
  }

  @Get()
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.ListSubscription',
    summary: 'List subscriptions',
    description:
      `The caller's active subscriptions, at most ${PAGE_SIZE} per page, paged by \`@odata.nextLink\`: a user sees those ` +
      'its application made for it, an application those it made in the tenant. No OData options (400 `notSupported`).',
    permissions: PERMITTED,
  })
  @ApiOkResponse({ description: 'OK: a page of subscriptions.', type: SubscriptionCollectionDto })
  @ApiGraphErrors(ERRORS_OF.list)
  async list(@CurrentCaller() caller: Caller, @Query() raw: Record<string, unknown>, @Req() request: FastifyRequest) {
    for (const name of Object.keys(raw)) {
      if (name !== '$skiptoken')
        throw new NotSupportedError(`The query option '${name.slice(0, 40)}' is not supported on subscriptions.`);
    }
    const scope = ['subscriptions', caller.tenantId];
    const token = raw.$skiptoken;
    const after = typeof token === 'string' ? this.skiptokens.decode(token, scope).id : undefined;
    const rows = await this.subscriptions.list(caller, PAGE_SIZE, after);
    const page = rows.slice(0, PAGE_SIZE);
    const last = page.at(-1);
    const urls = this.urls(request);
    const next =
      rows.length > PAGE_SIZE && last
        ? urls.nextLink(PATH, this.skiptokens.encode({ createdDateTime: last.created_at, id: last.id }, scope))
        : undefined;
    return {
      '@odata.context': urls.context(PATH),
      ...(next ? { '@odata.nextLink': next } : {}),
      value: page.map((row) => toSubscriptionDto(row, { withClientState: false })),
    };
  }

  @Get(':id')
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.GetSubscription',
    summary: 'Get subscription',
    description: "One of the caller's active subscriptions; `clientState` reads back as `null`, as on Graph.",
    permissions: PERMITTED,
  })
  @SUBSCRIPTION_ID
  @ApiOkResponse({ description: 'OK: the subscription.', type: SubscriptionEntityResponseDto })
  @ApiGraphErrors(ERRORS_OF.read)
  async get(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) id: string,
    @Req() request: FastifyRequest,
  ) {
    const row = await this.subscriptions.get(caller, id);
    return {
      '@odata.context': this.urls(request).context(`${PATH}/$entity`),
      ...toSubscriptionDto(row, { withClientState: false }),
    };
  }

  @Patch(':id')
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.UpdateSubscription',
    summary: 'Update subscription',
    description:
      'Renew (`expirationDateTime`, same bounds as on create) and/or move (`notificationUrl`, after a handshake with the new URL; ' +
      'on failure nothing changes). Later notifications carry the new `subscriptionExpirationDateTime`.',
    permissions: PERMITTED,
  })
  @SUBSCRIPTION_ID
  @ApiBody({ type: UpdateSubscriptionDto })
  @ApiOkResponse({ description: 'OK: the whole subscription.', type: SubscriptionEntityResponseDto })
  @ApiGraphErrors(ERRORS_OF.subscriptionWrite)
  async update(
    @CurrentCaller() caller: Caller,
    @Param('id', new ParseGuidPipe('id')) id: string,
    @Body() body: UpdateSubscriptionDto,
    @Req() request: FastifyRequest,
  ) {
    const row = await this.subscriptions.update(caller, id, body, request.id);
    return {
      '@odata.context': this.urls(request).context(`${PATH}/$entity`),
      ...toSubscriptionDto(row, { withClientState: true }),
    };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.DeleteSubscription',
    summary: 'Delete subscription',
    description:
      'Ends the subscription; what it has not yet been sent is discarded, and no lifecycle notification is sent.',
    permissions: PERMITTED,
  })
  @SUBSCRIPTION_ID
  @ApiResponse({ status: 204, description: 'No Content: the subscription is deleted.' })
  @ApiGraphErrors(ERRORS_OF.delete)
  async delete(@CurrentCaller() caller: Caller, @Param('id', new ParseGuidPipe('id')) id: string): Promise<void> {
    await this.subscriptions.delete(caller, id);
  }

  @Post(':id/reauthorize')
  @HttpCode(204)
  @RequirePermissions(PERMITTED)
  @ApiGraphOperation({
    operationId: 'subscriptions.subscription.reauthorize',
    summary: 'subscription: reauthorize',
    description:
      "Graph's action: re-checks the caller's permission and changes nothing (no token held here can expire).",
    permissions: PERMITTED,
  })
  @SUBSCRIPTION_ID
  @ApiResponse({ status: 204, description: 'No Content: the caller may still manage the subscription.' })
  @ApiGraphErrors(ERRORS_OF.read)
  async reauthorize(@CurrentCaller() caller: Caller, @Param('id', new ParseGuidPipe('id')) id: string): Promise<void> {
    await this.subscriptions.reauthorize(caller, id);
  }

  private urls(request: FastifyRequest): PublicUrls {
    return new PublicUrls(request, this.config.publicBaseUrl);
  }
}
