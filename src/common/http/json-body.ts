import type { FastifyInstance } from 'fastify';
import { InvalidBodyError } from '../errors/domain-error.js';
import { JSON_LIMITS, type JsonShapeProblem, jsonShapeProblem } from './json-shape.js';

const REFUSALS: Record<JsonShapeProblem['kind'], string> = {
  depth: `The request body nests objects or arrays deeper than ${JSON_LIMITS.maxDepth} levels.`,
  values: `The request body holds more than ${JSON_LIMITS.maxValues} properties and array elements.`,
  nul: 'The request body contains a NUL character (\\u0000), which cannot be stored.',
  loneSurrogate: 'The request body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which cannot be stored.',
};

/**
 * Bodies are JSON and nothing else: any other Content-Type is 415. Each body's shape and characters
 * are checked on its text first (see {@link jsonShapeProblem}), so that a hostile one is refused at the
 * cost of scanning it up to the bound, then parsed by Fastify's parser, which refuses `__proto__` and
 * `constructor.prototype` keys (400) instead of merging them.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const problem = jsonShapeProblem(body as string);
    if (problem) {
      done(new InvalidBodyError(REFUSALS[problem.kind]), undefined);
      return;
    }
    void parse(request, body as string, done);
  });
}
