/**
 * What a database error says about the request, by SQLSTATE and connection failure, never by a
 * server's message text, which may quote the request.
 *
 * - `unavailable`: the server is read-only, in recovery, shutting down, refusing connections or gone,
 *   or the statement was cancelled; a failover or restart looks like this. The request may be retried,
 *   and the connection that reported it must not serve another (it may lead to a demoted primary).
 * - `invalid`: a value PostgreSQL cannot take (class 22: a NUL, an out-of-range number) or a CHECK
 *   violation; the request's fault. Validation refuses these first; this is the backstop.
 */
export type DatabaseFailure = 'unavailable' | 'invalid';

const UNAVAILABLE_SQLSTATES = new Set([
  // read_only_sql_transaction: a standby, or a primary demoted under a pooled connection.
  '25006',
  // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or in recovery).
  '57P01',
  '57P02',
  '57P03',
  // database_dropped is not here: no retry helps.
  // too_many_connections, query_canceled (statement_timeout).
  '53300',
  '57014',
]);

/** node-postgres's codes for a socket that failed or never connected. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * node-postgres and pg-pool report a dropped socket, a pool timeout and a read timeout as plain Errors
 * with these messages. TypeORM releases a connection the moment it reports such an error, and the rest
 * of a transaction on it throws these names before anything is sent: nothing was committed.
 */
const CONNECTION_MESSAGE =
  /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout/i;
const RELEASED_CONNECTION_ERRORS = new Set([
  'QueryRunnerAlreadyReleasedError',
  'QueryRunnerProviderAlreadyReleasedError',
]);

export function databaseFailureOf(error: unknown): DatabaseFailure | undefined {
  if (error instanceof Error && RELEASED_CONNECTION_ERRORS.has(error.name)) return 'unavailable';
  // TypeORM wraps the driver's error as `driverError`; the pool's own errors come bare.
  const cause = isObject(error) && isObject(error.driverError) ? error.driverError : error;
  if (!isObject(cause)) return undefined;
  const code = typeof cause.code === 'string' ? cause.code : '';
  if (code.startsWith('22') || code === '23514') return 'invalid';
  if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || SOCKET_CODES.has(code)) return 'unavailable';
  // Only an error without a SQLSTATE is the driver's own: a server's message may quote the request.
  if (!code && typeof cause.message === 'string' && CONNECTION_MESSAGE.test(cause.message)) return 'unavailable';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
