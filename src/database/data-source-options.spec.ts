import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dataSourceOptions, listenForSessionEnd } from './data-source-options.js';

const URL = 'postgres://svc:p@127.0.0.1:6432/threats';

describe('dataSourceOptions', () => {
  it('sends the server-side timeouts as startup parameters without a pooler', () => {
    const options = dataSourceOptions({ url: URL, poolSize: 7, connectTimeoutMs: 900, statementTimeoutMs: 2000 });
    expect(options).toMatchObject({ type: 'postgres', url: URL, applicationName: 'threat-assessment-service' });
    expect(options.extra).toEqual({
      max: 7,
      connectionTimeoutMillis: 900,
      statement_timeout: 2000,
      query_timeout: 3000,
      idle_in_transaction_session_timeout: 4000,
      keepAlive: true,
      onConnect: listenForSessionEnd,
    });
  });

  it('is the same for pooler none as for no pooler given', () => {
    expect(dataSourceOptions({ url: URL, pooler: 'none' })).toEqual(dataSourceOptions({ url: URL }));
  });

  it('sends no session parameter behind a transaction pooler, and keeps the client-side timeout', () => {
    const options = dataSourceOptions({ url: URL, statementTimeoutMs: 2000, pooler: 'transaction' });
    expect(options.extra).toEqual({
      max: 10,
      connectionTimeoutMillis: 5000,
      query_timeout: 3000,
      keepAlive: true,
      onConnect: listenForSessionEnd,
    });
  });

  it("gives every client a listener for its session's end, for as long as it lives", () => {
    const client = new EventEmitter();
    listenForSessionEnd(client);
    // Without a listener, emit('error') throws: in a socket callback, that ends the process.
    expect(() => client.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
    expect(client.listenerCount('error')).toBe(1);
  });
});
