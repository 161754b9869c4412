import 'reflect-metadata';
import { getMetadataArgsStorage } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { polymorphicSpec } from '../common/validation/polymorphic-body.js';
import { CreateThreatAssessmentRequestDto } from './dto/create-threat-assessment-request-body.dto.js';
import { CREATE_REQUEST_EXAMPLES } from './dto/threat-assessment.examples.js';
import { ThreatAssessmentRequestEntity } from './entities/threat-assessment-request.entity.js';
import {
  CONTENT_TYPE_OF,
  CREATE_REQUEST_DTOS,
  kindCheck,
  REQUEST_KINDS,
  REQUEST_TYPES,
  requestTypeOf,
  requestTypeOfKind,
  requestTypesSchema,
  requiredColumnsCheck,
  type CreateThreatAssessmentRequestBody,
  TYPE_COLUMNS,
  type TypeProperty,
} from './request-types.js';
import { THREAT_ASSESSMENT_CONTENT_TYPES } from './threat-assessment.enums.js';
import { REQUESTS_FILTER } from './threat-assessment.filters.js';
import { toThreatAssessmentRequestDto } from './threat-assessment.mapper.js';

const KINDS = ['mailAssessmentRequest', 'emailFileAssessmentRequest', 'fileAssessmentRequest', 'urlAssessmentRequest'];

/** What Swagger documents for a DTO's property (its own or inherited). */
function swaggerProperty(dto: new () => object, property: string): { enum?: unknown[] } | undefined {
  return Reflect.getMetadata('swagger/apiModelProperties', dto.prototype as object, property) as
    { enum?: unknown[] } | undefined;
}

/** The properties Swagger documents on the DTO class itself (not on a base class), but its `@odata.type`. */
function ownSwaggerProperties(dto: new () => object): string[] {
  const all = (Reflect.getMetadata('swagger/apiModelPropertiesArray', dto.prototype as object) as string[]) ?? [];
  const base = Object.getPrototypeOf(dto.prototype) as object;
  const inherited = new Set((Reflect.getMetadata('swagger/apiModelPropertiesArray', base) as string[]) ?? []);
  return all
    .filter((p) => !inherited.has(p))
    .map((p) => p.slice(1))
    .filter((p) => p !== '@odata.type');
}

function entityColumns(entity: new () => object) {
  return getMetadataArgsStorage().columns.filter((column) => column.target === entity);
}

function checkOf(name: string): string | undefined {
  return getMetadataArgsStorage().checks.find(
    (check) => check.target === ThreatAssessmentRequestEntity && check.name === name,
  )?.expression;
}

describe('the request-type registry', () => {
  it('lists the four Graph types, in the order the API documents them', () => {
    expect(REQUEST_KINDS).toEqual(KINDS);
    expect(REQUEST_TYPES.map((type) => type.odataType)).toEqual(KINDS.map((kind) => `#microsoft.graph.${kind}`));
  });

  it('finds each type by kind and by @odata.type', () => {
    for (const type of REQUEST_TYPES) {
      expect(requestTypeOfKind(type.kind)).toBe(type);
      expect(requestTypeOf(type.odataType)).toBe(type);
    }
  });

  it.each(REQUEST_TYPES)('gives $kind a content type and an entity whose discriminator is its kind', (type) => {
    expect(THREAT_ASSESSMENT_CONTENT_TYPES).toContain(type.contentType);
    expect(CONTENT_TYPE_OF[type.kind]).toBe(type.contentType);
    const discriminator = getMetadataArgsStorage().discriminatorValues.find((d) => d.target === type.entity);
    expect(discriminator?.value).toBe(type.kind);
    expect(Object.getPrototypeOf(type.entity)).toBe(ThreatAssessmentRequestEntity);
  });

  it.each(REQUEST_TYPES)("names exactly $kind's entity columns, with their column names", (type) => {
    const columns = entityColumns(type.entity);
    expect(columns.map((c) => c.propertyName).sort()).toEqual(Object.keys(type.columns).sort());
    for (const column of columns) {
      const spec = TYPE_COLUMNS[column.propertyName as TypeProperty];
      expect(column.options.name).toBe(spec.column);
      // Nullable in the table: another type's rows leave it empty, the CHECK requires it for this one.
      expect(column.options.nullable).toBe(true);
    }
  });

  it('holds in TYPE_COLUMNS exactly the columns some type has', () => {
    const used = new Set(REQUEST_TYPES.flatMap((type) => Object.keys(type.columns)));
    expect([...used].sort()).toEqual(Object.keys(TYPE_COLUMNS).sort());
  });

  it.each(REQUEST_TYPES)("derives $kind's required-columns CHECK as the entity declares it", (type) => {
    const check = requiredColumnsCheck(type);
    expect(checkOf(check.name)).toBe(check.expression);
  });

  it('derives the kind CHECK as the entity declares it, and the entity has no other per-type CHECK', () => {
    expect(checkOf(kindCheck().name)).toBe(kindCheck().expression);
    const perType = getMetadataArgsStorage()
      .checks.filter((check) => check.target === ThreatAssessmentRequestEntity && check.name?.endsWith('_fields'))
      .map((check) => check.name)
      .sort();
    expect(perType).toEqual(REQUEST_TYPES.map((type) => requiredColumnsCheck(type).name).sort());
  });

  it.each(REQUEST_TYPES)("documents $kind's @odata.type on its create and response DTOs", (type) => {
    expect(swaggerProperty(type.createDto, '@odata.type')?.enum).toEqual([type.odataType]);
    expect(swaggerProperty(type.responseDto, '@odata.type')?.enum).toEqual([type.odataType]);
  });

  it('validates a create body with the registry’s create DTOs, by @odata.type', () => {
    expect(polymorphicSpec(CreateThreatAssessmentRequestDto)?.types).toEqual(CREATE_REQUEST_DTOS);
    expect(Object.entries(CREATE_REQUEST_DTOS)).toEqual(REQUEST_TYPES.map((type) => [type.odataType, type.createDto]));
  });

  it.each(['createDto', 'responseDto'] as const)('documents the %s of every type as oneOf', (side) => {
    const schema = requestTypesSchema(side);
    const refs = REQUEST_TYPES.map((type) => `#/components/schemas/${type[side].name}`);
    expect(schema.oneOf).toEqual(refs.map(($ref) => ({ $ref })));
    expect(Object.values(schema.discriminator.mapping)).toEqual(refs);
    expect(Object.keys(schema.discriminator.mapping)).toEqual(REQUEST_TYPES.map((type) => type.odataType));
  });

  it("offers isof on exactly the registry's types", () => {
    expect(REQUESTS_FILTER.isof?.types).toEqual(
      Object.fromEntries(REQUEST_TYPES.map((type) => [`microsoft.graph.${type.kind}`, type.kind])),
    );
  });

  it('has a documented create example for every type', () => {
    expect(Object.keys(CREATE_REQUEST_EXAMPLES)).toEqual(REQUEST_KINDS);
  });

  it.each(REQUEST_TYPES)(
    "turns $kind's example body into its columns and maps them to its own response properties",
    (type) => {
      const body = CREATE_REQUEST_EXAMPLES[type.kind].value as CreateThreatAssessmentRequestBody;
      const columns = type.columnsOf(body);
      expect(Object.keys(columns).sort()).toEqual(Object.keys(type.columns).sort());
      for (const [property, requirement] of Object.entries(type.columns)) {
        if (requirement === 'required') expect(columns[property as TypeProperty]).not.toBeNull();
      }
      expect(type.resource(body, columns).length).toBeGreaterThan(0);
      const entity = Object.assign(new type.entity(), {
        id: '0190b6a0-0000-7000-8000-000000000000',
        kind: type.kind,
        createdDateTime: new Date(0),
        createdBy: {},
        ...columns,
      });
      const dto = toThreatAssessmentRequestDto(entity);
      expect(dto['@odata.type']).toBe(type.odataType);
      expect(Object.keys(type.toResponse(entity)).sort()).toEqual(ownSwaggerProperties(type.responseDto).sort());
    },
  );
});
