import { CreateThreatAssessmentTables1795940720736 } from './1795940720736-CreateThreatAssessmentTables.js';
import { AddThrottlingAndIdempotency1795942058525 } from './1795942058525-AddThrottlingAndIdempotency.js';
import { RequireFieldsPerRequestType1795943756611 } from './1795943756611-RequireFieldsPerRequestType.js';
import { FilterColumnsInTenantIndex1795950000000 } from './1795950000000-FilterColumnsInTenantIndex.js';
import { TenantLeadsEveryKey1795960000000 } from './1795960000000-TenantLeadsEveryKey.js';
import { AddChangeNotifications1796243637027 } from './1796243637027-AddChangeNotifications.js';

// Listed explicitly (no glob): the same list works from `dist/`, from the tests and from the CLI.
export const MIGRATIONS = [
  CreateThreatAssessmentTables1795940720736,
  AddThrottlingAndIdempotency1795942058525,
  RequireFieldsPerRequestType1795943756611,
  FilterColumnsInTenantIndex1795950000000,
  TenantLeadsEveryKey1795960000000,
  AddChangeNotifications1796243637027,
];
