import { Injectable, type PipeTransform } from '@nestjs/common';
import { InvalidIdError } from '../errors/domain-error.js';

/** Graph ids are GUIDs of any version (Graph's own carry non-RFC variants), compared lower-case. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a GUID is 400 before any query: PostgreSQL would answer 22P02 otherwise. */
@Injectable()
export class ParseGuidPipe implements PipeTransform<string, string> {
  constructor(private readonly parameter: string) {}

  transform(value: string): string {
    if (typeof value !== 'string' || !GUID.test(value)) throw new InvalidIdError(this.parameter);
    return value.toLowerCase();
  }
}
