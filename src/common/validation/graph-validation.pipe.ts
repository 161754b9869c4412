import { type ArgumentMetadata, Injectable, ValidationPipe, type ValidationError } from '@nestjs/common';
import { type ErrorDetail, InvalidBodyError } from '../errors/domain-error.js';
import { polymorphicSpec, serverOwned } from './polymorphic-body.js';

/**
 * The one global ValidationPipe (APP_PIPE): whitelist, unknown properties refused. For bodies it
 * first resolves a {@link Polymorphic} DTO to its concrete class and drops {@link ServerOwned} fields.
 */
@Injectable()
export class GraphValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => {
        const details = flatten(errors);
        return new InvalidBodyError(
          details.map((d) => d.message).join('; ') || 'The request body is invalid.',
          details,
        );
      },
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body') return super.transform(value, metadata);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidBodyError('The request body must be a JSON object.');
    }
    const metatype = this.concreteType(value as Record<string, unknown>, metadata.metatype);
    const body = { ...(value as Record<string, unknown>) };
    for (const property of serverOwned(metatype)) delete body[property];
    return super.transform(body, { ...metadata, metatype });
  }

  private concreteType(body: Record<string, unknown>, metatype: ArgumentMetadata['metatype']) {
    const spec = polymorphicSpec(metatype);
    if (!spec) return metatype;
    const name = body[spec.property];
    if (name === undefined && spec.fallback) return spec.fallback;
    const known = Object.keys(spec.types);
    const expected = `one of ${known.map((k) => `'${k}'`).join(', ')}`;
    if (typeof name !== 'string') {
      throw new InvalidBodyError(`'${spec.property}' is required: ${expected}.`, [
        { target: spec.property, message: `'${spec.property}' is required: ${expected}.` },
      ]);
    }
    const type = Object.hasOwn(spec.types, name) ? spec.types[name] : undefined;
    if (!type) {
      const why = spec.abstract?.includes(name)
        ? `'${name}' is abstract`
        : `'${name.slice(0, 100)}' is not a known type`;
      throw new InvalidBodyError(`${why}; '${spec.property}' must be ${expected}.`, [
        { target: spec.property, message: `${why}; use ${expected}.` },
      ]);
    }
    return type;
  }
}

function flatten(errors: ValidationError[], prefix = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const target = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ target, message }));
    return [...own, ...flatten(error.children ?? [], target)];
  });
}
