/** A CTE that records notifications: `, name AS (INSERT INTO notifications …)`, closed at the CTEs' indent. */
const NOTIFICATIONS_CTE = /,\s*\w+ AS \(\s*INSERT INTO notifications\b.*?\n {2}\)/gs;

/**
 * A write statement (add-result, create) less the CTEs that record its notifications: what the outbox
 * costs, measured with pgbench and with the reference and the service. A parameter that only those CTEs
 * used stays typed in an unused CTE, so that the statement takes the service's values unchanged. Throws
 * when the statement has no such CTE.
 * @param {string} text
 */
export function withoutNotifications(text) {
  const removed = text.match(NOTIFICATIONS_CTE);
  if (!removed) throw new Error('the statement no longer has notification CTEs');
  const stripped = text.replace(NOTIFICATIONS_CTE, '');
  const orphans = [...new Set(removed.join('\n').match(/\$\d+::\w+/g) ?? [])].filter(
    (typed) => !new RegExp(`\\${typed.split('::')[0]}(?!\\d)`).test(stripped),
  );
  if (orphans.length === 0) return stripped;
  return stripped.replace(/\bWITH\b/, () => `WITH outbox_parameters AS (SELECT ${orphans.join(', ')}),`);
}
