/**
 * WHMCS-shaped tables for tests and the sandbox, from docs/data-model.md §7 (8.12 install schema, with
 * the 7.8.3 differences). Written once as MySQL DDL; `toSqlite` derives the SQLite form so the two
 * never drift apart.
 */
export type Shape = '7' | '8';

const TAIL = ' ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci';
const Z = "'0000-00-00 00:00:00'";

function configuration(shape: Shape): string {
  return shape === '8'
    ? `CREATE TABLE tblconfiguration (
  id INT(10) NOT NULL AUTO_INCREMENT,
  setting VARCHAR(64) NOT NULL,
  value MEDIUMTEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT ${Z},
  updated_at TIMESTAMP NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  UNIQUE KEY whmcs_setting_unique (setting),
  KEY setting (setting)
)`
    : `CREATE TABLE tblconfiguration (
  id INT(10) NOT NULL AUTO_INCREMENT,
  setting TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT ${Z},
  updated_at TIMESTAMP NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  KEY setting (setting(32))
)`;
}

function admins(shape: Shape): string {
  return `CREATE TABLE tbladmins (
  id INT(10) NOT NULL AUTO_INCREMENT,
  uuid VARCHAR(255) NOT NULL DEFAULT '',
  roleid INT(1) NOT NULL,
  username TEXT NOT NULL,
  password VARCHAR(255) NOT NULL DEFAULT '',
  passwordhash VARCHAR(255) NOT NULL DEFAULT '',
  authmodule TEXT NOT NULL,
  authdata TEXT NOT NULL,
  firstname TEXT NOT NULL,
  lastname TEXT NOT NULL,
  email TEXT NOT NULL,
  signature TEXT NOT NULL,
  notes TEXT NOT NULL,
  template TEXT NOT NULL,
  language TEXT NOT NULL,
  disabled INT(1) NOT NULL,
  loginattempts INT(1) NOT NULL,
  supportdepts TEXT NOT NULL,
  ticketnotifications TEXT NOT NULL,
  homewidgets TEXT NOT NULL,
  password_reset_key VARCHAR(255) NOT NULL DEFAULT '',
  password_reset_data TEXT NOT NULL,
  password_reset_expiry TIMESTAMP NOT NULL DEFAULT ${Z},
  hidden_widgets TEXT NOT NULL,
  widget_order TEXT NOT NULL,${shape === '8' ? '\n  user_preferences MEDIUMTEXT NULL,' : ''}
  created_at TIMESTAMP NOT NULL DEFAULT ${Z},
  updated_at TIMESTAMP NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  KEY username (username(32))
)`;
}

const USERS = `CREATE TABLE tblusers (
  id INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  first_name VARCHAR(255) NOT NULL DEFAULT '',
  last_name VARCHAR(255) NOT NULL DEFAULT '',
  email VARCHAR(255) NOT NULL DEFAULT '',
  password VARCHAR(255) NOT NULL DEFAULT '',
  language VARCHAR(32) NOT NULL DEFAULT '',
  second_factor VARCHAR(255) NOT NULL DEFAULT '',
  second_factor_config TEXT NULL,
  remember_token VARCHAR(100) NOT NULL DEFAULT '',
  reset_token VARCHAR(255) NOT NULL DEFAULT '',
  security_question_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  security_question_answer VARCHAR(255) NOT NULL DEFAULT '',
  last_ip VARCHAR(64) NOT NULL DEFAULT '',
  last_hostname VARCHAR(255) NOT NULL DEFAULT '',
  last_login TIMESTAMP NULL DEFAULT NULL,
  email_verification_token VARCHAR(100) NOT NULL DEFAULT '',
  email_verification_token_expiry TIMESTAMP NULL DEFAULT NULL,
  email_verified_at TIMESTAMP NULL DEFAULT NULL,
  reset_token_expiry TIMESTAMP NULL DEFAULT NULL,
  created_at TIMESTAMP NULL DEFAULT NULL,
  updated_at TIMESTAMP NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY tblusers_email_unique (email)
)`;

const USERS_CLIENTS = `CREATE TABLE tblusers_clients (
  id INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  auth_user_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  client_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  invite_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  owner TINYINT(3) UNSIGNED NOT NULL DEFAULT 0,
  permissions TEXT NULL,
  last_login TIMESTAMP NULL DEFAULT NULL,
  created_at TIMESTAMP NULL DEFAULT NULL,
  updated_at TIMESTAMP NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY user_id_client_id (auth_user_id, client_id),
  KEY client_id_owner_idx (client_id, owner)
)`;

function clients(shape: Shape): string {
  return `CREATE TABLE tblclients (
  id INT(10) NOT NULL AUTO_INCREMENT,
  uuid VARCHAR(255) NOT NULL DEFAULT '',
  firstname TEXT NOT NULL,
  lastname TEXT NOT NULL,
  companyname TEXT NOT NULL,
  email TEXT NOT NULL,
  address1 TEXT NOT NULL,
  address2 TEXT NOT NULL,
  city TEXT NOT NULL,
  state TEXT NOT NULL,
  postcode TEXT NOT NULL,
  country TEXT NOT NULL,
  phonenumber TEXT NOT NULL,
  tax_id VARCHAR(128) NOT NULL DEFAULT '',
  password TEXT NOT NULL,
  authmodule TEXT NOT NULL,
  authdata TEXT NOT NULL,
  currency INT(10) NOT NULL,
  defaultgateway TEXT NOT NULL,
  credit DECIMAL(${shape === '8' ? '16' : '10'},2) NOT NULL,
  taxexempt TINYINT(1) NOT NULL,
  latefeeoveride TINYINT(1) NOT NULL,
  overideduenotices TINYINT(1) NOT NULL,
  separateinvoices TINYINT(1) NOT NULL,
  disableautocc TINYINT(1) NOT NULL,
  datecreated DATE NOT NULL,
  notes TEXT NOT NULL,
  billingcid INT(10) NOT NULL,
  securityqid INT(10) NOT NULL,
  securityqans TEXT NOT NULL,
  groupid INT(10) NOT NULL,
  cardtype VARCHAR(255) NOT NULL DEFAULT '',
  cardlastfour TEXT NOT NULL,
  cardnum BLOB NOT NULL,
  startdate BLOB NOT NULL,
  expdate BLOB NOT NULL,
  issuenumber BLOB NOT NULL,
  bankname TEXT NOT NULL,
  banktype TEXT NOT NULL,
  bankcode BLOB NOT NULL,
  bankacct BLOB NOT NULL,
  gatewayid TEXT NOT NULL,
  lastlogin DATETIME NULL DEFAULT NULL,
  ip TEXT NOT NULL,
  host TEXT NOT NULL,
  status ENUM('Active','Inactive','Closed') NOT NULL DEFAULT 'Active',
  language TEXT NOT NULL,
  pwresetkey TEXT NOT NULL,
  emailoptout INT(1) NOT NULL,
  marketing_emails_opt_in TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  overrideautoclose INT(1) NOT NULL,
  allow_sso TINYINT(1) NOT NULL DEFAULT 1,
  email_verified TINYINT(1) NOT NULL DEFAULT 0,${shape === '8' ? '\n  email_preferences TEXT NULL,' : ''}
  created_at TIMESTAMP NOT NULL DEFAULT ${Z},
  updated_at TIMESTAMP NOT NULL DEFAULT ${Z},
  pwresetexpiry TIMESTAMP NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  KEY firstname_lastname (firstname(32), lastname(32)),
  KEY email (email(64))${shape === '8' ? ',\n  KEY client_status_id (status, id),\n  KEY lastlogin (lastlogin)' : ''}
)`;
}

const CONTACTS = `CREATE TABLE tblcontacts (
  id INT(10) NOT NULL AUTO_INCREMENT,
  userid INT(10) NOT NULL,
  firstname TEXT NOT NULL,
  lastname TEXT NOT NULL,
  companyname TEXT NOT NULL,
  email TEXT NOT NULL,
  address1 TEXT NOT NULL,
  address2 TEXT NOT NULL,
  city TEXT NOT NULL,
  state TEXT NOT NULL,
  postcode TEXT NOT NULL,
  country TEXT NOT NULL,
  phonenumber TEXT NOT NULL,
  tax_id VARCHAR(128) NOT NULL DEFAULT '',
  subaccount INT(1) NOT NULL DEFAULT 0,
  password TEXT NOT NULL,
  permissions TEXT NOT NULL,
  domainemails INT(1) NOT NULL,
  generalemails INT(1) NOT NULL,
  invoiceemails INT(1) NOT NULL,
  productemails INT(1) NOT NULL,
  supportemails INT(1) NOT NULL,
  affiliateemails INT(1) NOT NULL,
  pwresetkey TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT ${Z},
  updated_at TIMESTAMP NOT NULL DEFAULT ${Z},
  pwresetexpiry TIMESTAMP NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  KEY userid_firstname_lastname (userid, firstname(32), lastname(32)),
  KEY email (email(64))
)`;

function activityLog(shape: Shape): string {
  return shape === '8'
    ? `CREATE TABLE tblactivitylog (
  id INT(10) NOT NULL AUTO_INCREMENT,
  date DATETIME NOT NULL DEFAULT ${Z},
  description TEXT NOT NULL,
  user TEXT NOT NULL,
  userid INT(10) UNSIGNED NOT NULL DEFAULT 0,
  user_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  admin_id INT(10) UNSIGNED NOT NULL DEFAULT 0,
  ipaddr TEXT NOT NULL,
  PRIMARY KEY (id),
  KEY date (date),
  KEY user (user(255)),
  KEY userid (userid),
  KEY user_id (user_id),
  KEY admin_id (admin_id)
)`
    : `CREATE TABLE tblactivitylog (
  id INT(10) NOT NULL AUTO_INCREMENT,
  date DATETIME NOT NULL DEFAULT ${Z},
  description TEXT NOT NULL,
  user TEXT NOT NULL,
  userid INT(10) NOT NULL,
  ipaddr TEXT NOT NULL,
  PRIMARY KEY (id),
  KEY userid (userid)
)`;
}

function adminLog(shape: Shape): string {
  return `CREATE TABLE tbladminlog (
  id INT(10) NOT NULL AUTO_INCREMENT,
  adminusername TEXT NOT NULL,
  logintime DATETIME NOT NULL DEFAULT ${Z},
  logouttime DATETIME NOT NULL DEFAULT ${Z},
  ipaddress TEXT NOT NULL,
  sessionid TEXT NOT NULL,
  lastvisit DATETIME NOT NULL DEFAULT ${Z},
  PRIMARY KEY (id),
  KEY logouttime (logouttime)${shape === '8' ? ',\n  KEY lastvisit (lastvisit)' : ''}
)`;
}

const ADMIN_ROLES = `CREATE TABLE tbladminroles (
  id INT(1) NOT NULL AUTO_INCREMENT,
  name TEXT NOT NULL,
  widgets TEXT NOT NULL,
  reports TEXT NOT NULL,
  systememails INT(1) NOT NULL,
  accountemails INT(1) NOT NULL,
  supportemails INT(1) NOT NULL,
  PRIMARY KEY (id)
)`;

const BANNED_IPS = `CREATE TABLE tblbannedips (
  id INT(10) NOT NULL AUTO_INCREMENT,
  ip TEXT NOT NULL,
  reason TEXT NOT NULL,
  expires DATETIME NOT NULL,
  PRIMARY KEY (id),
  KEY ip (ip(32))
)`;

/**
 * Two tables whose values WHMCS keeps `encrypt()`ed (server passwords, registrar settings): the key
 * check (key-check.ts) proves cc_encryption_hash against them. Only the columns that matter here
 * plus the NOT NULL ones around them; the real tables have more.
 */
const SERVERS = `CREATE TABLE tblservers (
  id INT(10) NOT NULL AUTO_INCREMENT,
  name TEXT NOT NULL,
  ipaddress TEXT NOT NULL,
  hostname TEXT NOT NULL,
  type TEXT NOT NULL,
  username TEXT NOT NULL,
  password TEXT NOT NULL,
  accesshash TEXT NOT NULL,
  secure TEXT NOT NULL,
  port INT(8) NULL DEFAULT NULL,
  active INT(1) NOT NULL,
  disabled INT(1) NOT NULL,
  PRIMARY KEY (id)
)`;

const REGISTRARS = `CREATE TABLE tblregistrars (
  id INT(10) NOT NULL AUTO_INCREMENT,
  registrar TEXT NOT NULL,
  setting TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (id),
  KEY registrar_setting (registrar(32), setting(32))
)`;

/** MySQL statements creating a WHMCS-shaped database of the given major version. */
export function mysqlDdl(shape: Shape): string[] {
  const tables = [
    configuration(shape),
    admins(shape),
    ...(shape === '8' ? [USERS, USERS_CLIENTS] : []),
    clients(shape),
    CONTACTS,
    activityLog(shape),
    adminLog(shape),
    ADMIN_ROLES,
    BANNED_IPS,
    SERVERS,
    REGISTRARS,
  ];
  return tables.map((t) => t + TAIL);
}

/**
 * The same tables for SQLite: AUTO_INCREMENT ids become INTEGER PRIMARY KEY, KEY lines become
 * CREATE INDEX, prefix lengths and MySQL-only type details are dropped (SQLite's affinity rules
 * accept the type names as they are).
 */
export function sqliteDdl(shape: Shape): string[] {
  const out: string[] = [];
  for (const stmt of mysqlDdl(shape)) {
    const body = stmt.replace(TAIL, '');
    const table = /CREATE TABLE (\w+)/.exec(body)![1]!;
    const lines = body.split('\n');
    const cols: string[] = [];
    const indexes: string[] = [];
    for (const raw of lines.slice(1, -1)) {
      const line = raw.trim().replace(/,$/, '');
      let m: RegExpExecArray | null;
      if (line.startsWith('PRIMARY KEY')) continue;
      if ((m = /^UNIQUE KEY (\w+) \((.+)\)$/.exec(line))) {
        indexes.push(`CREATE UNIQUE INDEX ${table}_${m[1]} ON ${table} (${stripPrefix(m[2]!)})`);
      } else if ((m = /^KEY (\w+) \((.+)\)$/.exec(line))) {
        indexes.push(`CREATE INDEX ${table}_${m[1]} ON ${table} (${stripPrefix(m[2]!)})`);
      } else if (/^id INT\(\d+\)( UNSIGNED)? NOT NULL AUTO_INCREMENT$/.test(line)) {
        cols.push('id INTEGER PRIMARY KEY AUTOINCREMENT');
      } else {
        cols.push(line.replace(/ENUM\([^)]*\)/, 'TEXT').replace(/ UNSIGNED/, ''));
      }
    }
    out.push(`CREATE TABLE ${table} (\n  ${cols.join(',\n  ')}\n)`, ...indexes);
  }
  return out;
}

function stripPrefix(cols: string): string {
  return cols.replace(/\((\d+)\)/g, '');
}
