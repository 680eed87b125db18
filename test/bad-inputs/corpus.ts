import type { BadInput } from './harness.js';
import { configurationPhpCases } from './cases/configuration-php.js';
import { dbUrlCases } from './cases/db-url.js';
import { databaseCases } from './cases/database.js';
import { settingsCases } from './cases/settings.js';
import { ccHashCases } from './cases/cc-hash.js';
import { accountCases } from './cases/accounts.js';
import { ntpCases } from './cases/ntp.js';

/** Every bad-input case, by group (each group runs from its own test file). */
export const CORPUS: Record<string, BadInput[]> = {
  'configuration.php': configurationPhpCases,
  '--db URLs': dbUrlCases,
  'the database': databaseCases,
  '2fasettings': settingsCases,
  cc_encryption_hash: ccHashCases,
  'accounts, modules and flags': accountCases,
  'NTP garbage': ntpCases,
};
