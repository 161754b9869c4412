import type { OpenAPIObject } from '@nestjs/swagger';

type Schema = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';
/** What `$select` always keeps (see `project()`): an item stays addressable and typed. */
const KEPT = (name: string) => name === 'id' || name === 'value' || name.startsWith('@odata.');

/**
 * A `$select` answer omits properties that a full one requires. Each operation that takes `$select`
 * documents its 200 body as the full schema or its projection (`…Selection` components: the same
 * properties, with only `id` and the `@odata.` annotations required), so that the document describes
 * every body the service sends. A collection's projection projects its `value` items, not the page.
 */
export function describeSelectProjections(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const projectionOf = (schema: Schema): Schema => {
    if (typeof schema.$ref === 'string')
      return { $ref: `${REF_PREFIX}${projected(schema.$ref.slice(REF_PREFIX.length))}` };
    const out: Schema = { ...schema };
    for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
      if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map(projectionOf);
    }
    const discriminator = schema.discriminator as
      { propertyName: string; mapping?: Record<string, string> } | undefined;
    if (discriminator?.mapping) {
      out.discriminator = {
        ...discriminator,
        mapping: Object.fromEntries(
          Object.entries(discriminator.mapping).map(([value, ref]) => [value, projectionOf({ $ref: ref }).$ref]),
        ),
      };
    }
    if (Array.isArray(schema.required)) out.required = (schema.required as string[]).filter(KEPT);
    const properties = schema.properties as Record<string, Schema> | undefined;
    const value = properties?.value;
    if (value?.type === 'array' && value.items) {
      out.properties = { ...properties, value: { ...value, items: projectionOf(value.items as Schema) } };
    }
    return out;
  };
  const projected = (name: string): string => {
    const selection = `${name}Selection`;
    if (!schemas[selection]) {
      const source = schemas[name];
      if (!source) throw new Error(`No schema ${name} to project`);
      // Named before it is built, so that a schema reaching itself again refers to it.
      schemas[selection] = {};
      schemas[selection] = {
        ...projectionOf(source),
        description: `${name} as \`$select\` returns it: the selected properties, \`id\` and the \`@odata.\` annotations.`,
      };
    }
    return selection;
  };

  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(
      item as Record<
        string,
        {
          parameters?: { name: string }[];
          responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
        }
      >,
    )) {
      if (!operation.parameters?.some((parameter) => parameter.name === '$select')) continue;
      const media = operation.responses?.['200']?.content?.['application/json'];
      if (media?.schema) media.schema = { anyOf: [media.schema, projectionOf(media.schema)] };
    }
  }
  return document;
}
