/** configuration.php variable naming a SQLite file (the sandbox); WHMCS itself ignores unknown variables. */
export const SQLITE_CONFIG_VAR = 'whmcs_2fa_sqlite';
export const SANDBOX_DB_FILE = 'whmcs-sandbox.sqlite';
