/** Metadata that lets the global validation pipe pick a concrete DTO and drop server-owned fields. */
export interface PolymorphicBody {
  /** The property naming the concrete type, e.g. `@odata.type`. */
  property: string;
  /** Value of `property` → the DTO class that validates the body. */
  types: Readonly<Record<string, new () => object>>;
  /** Used when the body has no `property`; absent: the property is required. */
  fallback?: new () => object;
  /** Values named in messages as abstract (e.g. the base type). */
  abstract?: readonly string[];
}

const POLYMORPHIC = Symbol('polymorphic-body');
const SERVER_OWNED = Symbol('server-owned');

/** Marks a body DTO as one of several types, chosen by a discriminator property. */
export function Polymorphic(spec: PolymorphicBody): ClassDecorator {
  return (target) => Reflect.defineMetadata(POLYMORPHIC, spec, target);
}

/** Properties the server assigns: a client may send them (Graph's clients echo objects back), they are ignored. */
export function ServerOwned(...properties: string[]): ClassDecorator {
  return (target) => Reflect.defineMetadata(SERVER_OWNED, properties, target);
}

export function polymorphicSpec(target: unknown): PolymorphicBody | undefined {
  return typeof target === 'function'
    ? (Reflect.getMetadata(POLYMORPHIC, target) as PolymorphicBody | undefined)
    : undefined;
}

export function serverOwned(target: unknown): readonly string[] {
  return (typeof target === 'function' && (Reflect.getMetadata(SERVER_OWNED, target) as string[] | undefined)) || [];
}
