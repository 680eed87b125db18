import type { ConnectRequest } from '../whmcs/connection/connect.js';
import { findConfigurationPhp } from '../whmcs/connection/find-configuration-php.js';

/**
 * True when any of the documented ways to find the database applies. Without one, clock-check checks
 * only this host — a monitoring host often has no WHMCS at all. Kept apart from db-clock.ts so that
 * answering it loads neither the configuration.php reader nor the connection path.
 */
export function databaseConfigured(req: Pick<ConnectRequest, 'whmcsDir' | 'dbUrl' | 'env' | 'cwd'>): boolean {
  if (req.dbUrl || req.whmcsDir || req.env.WHMCS_DB_URL || req.env.WHMCS_DIR) return true;
  return findConfigurationPhp(req.cwd, {}) !== null;
}
