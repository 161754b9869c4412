import { ApiOperation } from '@nestjs/swagger';
import type { RequiredPermissions } from '../../auth/permissions.decorator.js';

export interface GraphOperationDoc {
  /** Graph's own operation id (its OpenAPI description), so that generated clients get Graph's names. */
  operationId: string;
  /** The title of Graph's reference page for the operation. */
  summary: string;
  description: string;
  /** The same object the operation's `@RequirePermissions` takes; the OpenAPI test checks they agree. */
  permissions: RequiredPermissions;
}

/** An operation documented as Graph's reference pages do it: what it does, then its permissions table. */
export const ApiGraphOperation = ({ operationId, summary, description, permissions }: GraphOperationDoc) =>
  ApiOperation({ operationId, summary, description: `${description}\n\n${permissionsTable(permissions)}` });

/** Graph's "Permissions" section: any one of the listed permissions is enough. */
export function permissionsTable({ delegated, application }: RequiredPermissions): string {
  const list = (permissions: readonly string[]) =>
    permissions.length ? permissions.map((p) => `\`${p}\``).join(', ') : 'Not supported.';
  return [
    '**Permissions** (any one of those listed is required):',
    '',
    '| Permission type | Permissions |',
    '|:---|:---|',
    `| Delegated (work or school account) | ${list(delegated)} |`,
    '| Delegated (personal Microsoft account) | Not supported. |',
    `| Application | ${list(application)} |`,
  ].join('\n');
}
