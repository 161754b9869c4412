import { RouteConfig } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';

/**
 * The body limit of every route but those marked {@link TakesFileContent}: the largest such body (a
 * result with a 4,000-character message, every character escaped) is under 25 KiB.
 */
export const SMALL_BODY_LIMIT_BYTES = 32 * 1024;

/** A route whose body carries file content (`contentData`): its limit is `BODY_LIMIT_BYTES`. */
export const TakesFileContent = (): MethodDecorator => RouteConfig({ takesFileContent: true });

/** Fastify `onRoute`: each route gets the body limit it needs. */
export function bodyLimitHook(fileContentLimitBytes: number) {
  return (route: RouteOptions): void => {
    const config: { takesFileContent?: boolean } | undefined = route.config;
    route.bodyLimit ??= config?.takesFileContent ? fileContentLimitBytes : SMALL_BODY_LIMIT_BYTES;
  };
}
