import { ServiceUnavailableError } from '../common/errors/domain-error.js';

/** The database is not reachable (yet): 503 `serviceNotAvailable` with `Retry-After`. */
export class DatabaseUnavailableError extends ServiceUnavailableError {}
