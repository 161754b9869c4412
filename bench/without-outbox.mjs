// Loaded into the service with `node --import`: the build as it is, except that its two hot writes,
// add-result and create, lose the CTEs that record their notifications (withoutNotifications). The
// outbox scenario's baseline: what the same service does with no outbox at all. Throws at load when a
// built module no longer has the call it patches.
import { registerHooks } from 'node:module';
import { withoutNotifications } from './without-notifications.mjs';

/** The statements' modules, and the call in each that builds the statement's variants. */
const PATCHES = [
  {
    module: '/dist/threat-assessment/persistence/results.store.js',
    call: "writeStatements('add_threat_assessment_result', addResultSql)",
  },
  {
    module: '/dist/threat-assessment/persistence/requests.store.js',
    call: "writeStatements('create_threat_assessment_request', createRequestSql)",
  },
];

/**
 * The statement's variants less their notification CTEs.
 * @param {(withClaim: boolean, throttled: boolean) => string} sql
 */
export function stripped(sql) {
  return (/** @type {boolean} */ withClaim, /** @type {boolean} */ throttled) =>
    withoutNotifications(sql(withClaim, throttled));
}

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    const patch = PATCHES.find(({ module }) => url.endsWith(module));
    if (!patch) return loaded;
    const source = String(loaded.source);
    if (!source.includes(patch.call))
      throw new Error(`${url} no longer calls ${patch.call}: the outbox baseline cannot patch it`);
    const patched = source.replace(patch.call, () => patch.call.replace(/, (\w+)\)$/, ', stripped($1))'));
    return { ...loaded, source: `import { stripped } from '${import.meta.url}';\n${patched}` };
  },
});
