// Loaded into the service with `node --import`: the build as it is, except that add-result's statement
// loses its notification CTEs (withoutNotifications). The outbox scenario's baseline: what the same
// service does with no outbox at all. Throws at load when the built module no longer has the call it patches.
import { registerHooks } from 'node:module';
import { withoutNotifications } from './add-result-statement.mjs';

const MODULE = '/dist/threat-assessment/persistence/results.store.js';
const CALL = "writeStatements('add_threat_assessment_result', addResultSql)";

/**
 * The statement's variants less their notification CTEs. $6, the traceparent, only the notifications
 * used: an unused CTE keeps its type known, as the service still sends it.
 * @param {(withClaim: boolean, throttled: boolean) => string} sql
 */
export function stripped(sql) {
  return (/** @type {boolean} */ withClaim, /** @type {boolean} */ throttled) =>
    withoutNotifications(sql(withClaim, throttled)).replace(
      'WITH parent AS (',
      () => 'WITH untraced AS (SELECT $6::varchar), parent AS (',
    );
}

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    if (!url.endsWith(MODULE)) return loaded;
    const source = String(loaded.source);
    if (!source.includes(CALL)) throw new Error(`${url} no longer calls ${CALL}: the outbox baseline cannot patch it`);
    const patched = source.replace(
      CALL,
      () => "writeStatements('add_threat_assessment_result', stripped(addResultSql))",
    );
    return { ...loaded, source: `import { stripped } from '${import.meta.url}';\n${patched}` };
  },
});
