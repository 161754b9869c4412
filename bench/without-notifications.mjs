/**
 * The service's add-result statement less the two CTEs that record notifications: what the outbox costs,
 * measured with pgbench and with the reference. Throws when the statement no longer has them.
 * @param {string} text
 */
export function withoutNotifications(text) {
  const stripped = text.replace(/, result_notified AS \(.*?\n {2}\), request_notified AS \(.*?\n {2}\)\n/s, '\n');
  if (stripped === text) throw new Error('the add-result statement no longer has its notification CTEs');
  return stripped;
}
