import { DomainError } from '../common/errors/domain-error.js';

/** The database is not reachable (yet): 503 `serviceNotAvailable` with `Retry-After`. */
export class DatabaseUnavailableError extends DomainError {
  readonly code = 'databaseUnavailable';

  constructor() {
    super('The database is not available yet.');
  }
}
