import { createHash } from 'node:crypto';
import { getSchemaPath } from '@nestjs/swagger';
import { canonicalEmail, canonicalUrl } from '../throttling/resource-key.js';
import {
  CreateEmailFileAssessmentRequestDto,
  CreateFileAssessmentRequestDto,
  CreateMailAssessmentRequestDto,
  CreateUrlAssessmentRequestDto,
} from './dto/create-threat-assessment-request.dto.js';
import {
  EmailFileAssessmentRequestDto,
  FileAssessmentRequestDto,
  MailAssessmentRequestDto,
  type ThreatAssessmentRequestFieldsDto,
  UrlAssessmentRequestDto,
} from './dto/threat-assessment-responses.dto.js';
import {
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  MailAssessmentRequestEntity,
  type ThreatAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
} from './entities/threat-assessment-request.entity.js';
import type { ThreatAssessmentContentType } from './threat-assessment.enums.js';

/**
 * The derived types' columns of the one table, each once, in the order the insert lists them. `read`:
 * selected for responses (the content's size and digest stay in the table).
 */
export const TYPE_COLUMNS = {
  recipientEmail: { column: 'recipient_email', sqlType: 'varchar', read: true },
  messageUri: { column: 'message_uri', sqlType: 'varchar', read: true },
  destinationRoutingReason: { column: 'destination_routing_reason', sqlType: 'varchar', read: true },
  fileName: { column: 'file_name', sqlType: 'varchar', read: true },
  url: { column: 'url', sqlType: 'varchar', read: true },
  contentSize: { column: 'content_size', sqlType: 'int', read: false },
  contentSha256: { column: 'content_sha256', sqlType: 'bytea', read: false },
} as const;
export type TypeProperty = keyof typeof TYPE_COLUMNS;
export type ReadColumn = {
  [P in TypeProperty]: (typeof TYPE_COLUMNS)[P]['read'] extends true ? (typeof TYPE_COLUMNS)[P]['column'] : never;
}[TypeProperty];

/** The response properties every type shares; a type maps only its own. */
type OwnResponse<Response> = Omit<Response, '@odata.type' | keyof ThreatAssessmentRequestFieldsDto>;

interface RequestTypeDefinition<Create, Entity, Response, Columns extends Partial<Entity>> {
  /** How the API description names the type. */
  label: string;
  /** Graph derives `contentType` from the type: an .eml file is mail. */
  contentType: ThreatAssessmentContentType;
  entity: new () => Entity;
  createDto: new () => Create;
  responseDto: new () => Response;
  /** The type's own columns (of TYPE_COLUMNS): `required` ones are NOT NULL for its rows, by a CHECK. */
  columns: Readonly<{ [P in keyof Columns & TypeProperty]: 'required' | 'optional' }>;
  /** The create body as the type's columns; `contentData` becomes its size and SHA-256 and goes no further. */
  columnsOf(body: Create): Columns;
  /**
   * What Graph's per-resource limit counts, each part in its canonical spelling, so that respelling a
   * resource does not make it another.
   */
  resource(body: Create, columns: Columns): string[];
  /** The type's own response properties, in wire order. */
  toResponse(entity: Entity): OwnResponse<Response>;
}

/** Lets TypeScript check each row against its own classes. */
function requestType<Create, Entity, Response, Columns extends Partial<Entity>>(
  definition: RequestTypeDefinition<Create, Entity, Response, Columns>,
) {
  return definition;
}

function digest(contentData: string): { contentSize: number; contentSha256: Buffer } {
  const bytes = Buffer.from(contentData, 'base64');
  return { contentSize: bytes.length, contentSha256: createHash('sha256').update(bytes).digest() };
}

/**
 * The concrete request types, one row each: every per-type fact lives here and the rest is derived
 * (enums, the insert and select lists, row and response mapping, Swagger's `oneOf`, `isof`, the CHECKs'
 * expected texts). The key is the discriminator stored in `kind`; `@odata.type` is
 * `#microsoft.graph.{kind}`. Adding a type: a row here, its entity and DTO classes, and a migration.
 */
const DEFINITIONS = {
  mailAssessmentRequest: requestType({
    label: 'mail',
    contentType: 'mail',
    entity: MailAssessmentRequestEntity,
    createDto: CreateMailAssessmentRequestDto,
    responseDto: MailAssessmentRequestDto,
    columns: { recipientEmail: 'required', messageUri: 'required', destinationRoutingReason: 'optional' },
    columnsOf: (body) => ({
      recipientEmail: body.recipientEmail,
      messageUri: body.messageUri,
      destinationRoutingReason: body.destinationRoutingReason ?? null,
    }),
    resource: (body) => [canonicalEmail(body.recipientEmail), canonicalUrl(body.messageUri)],
    toResponse: (entity) => ({
      recipientEmail: entity.recipientEmail,
      destinationRoutingReason: entity.destinationRoutingReason,
      messageUri: entity.messageUri,
    }),
  }),
  emailFileAssessmentRequest: requestType({
    label: 'email file',
    contentType: 'mail',
    entity: EmailFileAssessmentRequestEntity,
    createDto: CreateEmailFileAssessmentRequestDto,
    responseDto: EmailFileAssessmentRequestDto,
    columns: {
      recipientEmail: 'required',
      destinationRoutingReason: 'optional',
      contentSize: 'required',
      contentSha256: 'required',
    },
    columnsOf: (body) => ({
      recipientEmail: body.recipientEmail,
      destinationRoutingReason: body.destinationRoutingReason ?? null,
      ...digest(body.contentData),
    }),
    resource: (body, columns) => [canonicalEmail(body.recipientEmail), columns.contentSha256.toString('hex')],
    toResponse: (entity) => ({
      recipientEmail: entity.recipientEmail,
      destinationRoutingReason: entity.destinationRoutingReason,
      contentData: '' as const,
    }),
  }),
  fileAssessmentRequest: requestType({
    label: 'file',
    contentType: 'file',
    entity: FileAssessmentRequestEntity,
    createDto: CreateFileAssessmentRequestDto,
    responseDto: FileAssessmentRequestDto,
    columns: { fileName: 'required', contentSize: 'required', contentSha256: 'required' },
    columnsOf: (body) => ({ fileName: body.fileName, ...digest(body.contentData) }),
    resource: (_body, columns) => [columns.contentSha256.toString('hex')],
    toResponse: (entity) => ({ fileName: entity.fileName, contentData: '' as const }),
  }),
  urlAssessmentRequest: requestType({
    label: 'URL',
    contentType: 'url',
    entity: UrlAssessmentRequestEntity,
    createDto: CreateUrlAssessmentRequestDto,
    responseDto: UrlAssessmentRequestDto,
    columns: { url: 'required' },
    columnsOf: (body) => ({ url: body.url }),
    resource: (body) => [canonicalUrl(body.url)],
    toResponse: (entity) => ({ url: entity.url }),
  }),
};

export type RequestKind = keyof typeof DEFINITIONS;
export type RequestODataType = `#microsoft.graph.${RequestKind}`;
export type CreateThreatAssessmentRequestBody = InstanceType<(typeof DEFINITIONS)[RequestKind]['createDto']>;
export type ThreatAssessmentRequestDto = InstanceType<(typeof DEFINITIONS)[RequestKind]['responseDto']>;

/** One type seen through what every type shares: what the code that handles any type works with. */
export interface RequestType {
  kind: RequestKind;
  odataType: RequestODataType;
  label: string;
  contentType: ThreatAssessmentContentType;
  entity: new () => ThreatAssessmentRequestEntity;
  createDto: new () => object;
  responseDto: new () => object;
  columns: Readonly<Partial<Record<TypeProperty, 'required' | 'optional'>>>;
  /** The type's read columns, as [entity property, column]: a row's own fields. */
  readColumns: readonly (readonly [TypeProperty, ReadColumn])[];
  // Method syntax: each row takes its own body and entity classes, checked above.
  columnsOf(body: CreateThreatAssessmentRequestBody): Partial<Record<TypeProperty, unknown>>;
  resource(body: CreateThreatAssessmentRequestBody, columns: Partial<Record<TypeProperty, unknown>>): string[];
  toResponse(entity: ThreatAssessmentRequestEntity): object;
}

export const REQUEST_TYPES: readonly RequestType[] = Object.entries(DEFINITIONS).map(
  ([kind, definition]): RequestType => ({
    ...definition,
    kind: kind as RequestKind,
    odataType: `#microsoft.graph.${kind as RequestKind}`,
    readColumns: (Object.keys(definition.columns) as TypeProperty[])
      .filter((property) => TYPE_COLUMNS[property].read)
      .map((property) => [property, TYPE_COLUMNS[property].column as ReadColumn] as const),
  }),
);

export const REQUEST_KINDS: readonly RequestKind[] = REQUEST_TYPES.map((type) => type.kind);

const BY_KIND = new Map(REQUEST_TYPES.map((type) => [type.kind, type]));
const BY_ODATA_TYPE = new Map<string, RequestType>(REQUEST_TYPES.map((type) => [type.odataType, type]));

export function requestTypeOfKind(kind: RequestKind): RequestType {
  return BY_KIND.get(kind)!;
}

/** Of a validated body: its `@odata.type` is one of the registry's. */
export function requestTypeOf(odataType: string): RequestType {
  return BY_ODATA_TYPE.get(odataType)!;
}

export const CONTENT_TYPE_OF = Object.fromEntries(
  REQUEST_TYPES.map((type) => [type.kind, type.contentType]),
) as Readonly<Record<RequestKind, ThreatAssessmentContentType>>;

/** `@odata.type` → create DTO, for the validation pipe's polymorphic body. */
export const CREATE_REQUEST_DTOS: Readonly<Record<string, new () => object>> = Object.fromEntries(
  REQUEST_TYPES.map((type) => [type.odataType, type.createDto]),
);

/** `oneOf` the request types, discriminated by `@odata.type`, for request (`createDto`) or response bodies. */
export function requestTypesSchema(side: 'createDto' | 'responseDto') {
  return {
    oneOf: REQUEST_TYPES.map((type) => ({ $ref: getSchemaPath(type[side]) })),
    discriminator: {
      propertyName: '@odata.type',
      mapping: Object.fromEntries(REQUEST_TYPES.map((type) => [type.odataType, getSchemaPath(type[side])])),
    },
  };
}

/** The derived type's columns in insert order: the insert's parameters after the shared ones. */
export const TYPE_COLUMN_LIST = Object.entries(TYPE_COLUMNS).map(([property, spec]) => ({
  property: property as TypeProperty,
  ...spec,
}));

/** The CHECK that a type's rows carry its required columns; its name and text as in the migrations. */
export function requiredColumnsCheck(type: RequestType): { name: string; expression: string } {
  const suffix = type.kind.replace(/AssessmentRequest$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const required = (Object.keys(type.columns) as TypeProperty[])
    .filter((property) => type.columns[property] === 'required')
    .map((property) => `"${TYPE_COLUMNS[property].column}" IS NOT NULL`);
  const condition = required.length === 1 ? required[0] : `(${required.join(' AND ')})`;
  return {
    name: `ck_threat_assessment_requests_${suffix}_fields`,
    expression: `"kind" <> '${type.kind}' OR ${condition}`,
  };
}

/** The CHECK that `kind` is one of the registry's. */
export function kindCheck(): { name: string; expression: string } {
  return {
    name: 'ck_threat_assessment_requests_kind',
    expression: `"kind" IN (${REQUEST_KINDS.map((kind) => `'${kind}'`).join(', ')})`,
  };
}
