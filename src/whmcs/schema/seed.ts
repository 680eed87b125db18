import type { Knex } from 'knex';
import { mysqlDdl, sqliteDdl, type Shape } from './ddl.js';
import { nowSql } from '../connection/sql-time.js';

/**
 * Creates the WHMCS tables and the fresh-install rows (Version, the default 2fasettings row, the
 * three admin roles). Used by tests, the benchmark seeder and the sandbox.
 */
export async function createWhmcsSchema(
  knex: Knex,
  dialect: 'mysql' | 'sqlite',
  shape: Shape,
  version = shape === '8' ? '8.12.1-release.1' : '7.8.3-release.1',
): Promise<void> {
  if (dialect === 'mysql') await knex.raw("SET SESSION sql_mode = ''");
  for (const stmt of dialect === 'mysql' ? mysqlDdl(shape) : sqliteDdl(shape)) await knex.raw(stmt);
  const now = nowSql();
  await knex('tblconfiguration').insert([
    { setting: 'Version', value: version, created_at: now, updated_at: now },
    { setting: '2fasettings', value: FRESH_INSTALL_2FA, created_at: now, updated_at: now },
    { setting: 'SystemURL', value: 'https://billing.example.com/', created_at: now, updated_at: now },
    { setting: 'ActivityLimit', value: '10000', created_at: now, updated_at: now },
  ]);
  await knex('tbladminroles').insert(
    ['Full Administrator', 'Sales Operator', 'Support Operator'].map((name) => ({
      name, widgets: '', reports: '', systememails: 1, accountemails: 1, supportemails: 1,
    })),
  );
}

/** The row WHMCS 7.8 and 8.12 install: TOTP on for clients and admins, nothing forced (docs/data-model.md §1.1). */
export const FRESH_INSTALL_2FA =
  'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}';

// Kept here too for the seeding helpers' callers; defined where the runtime code can load it alone.
export { nowSql };

interface AdminSeed {
  username: string;
  email?: string;
  roleid?: number;
  disabled?: number;
  authmodule?: string;
  authdata?: string;
  firstname?: string;
  lastname?: string;
}

/** Every NOT NULL column gets a value, because SQLite (and strict MySQL) have no implicit defaults. */
export function adminRow(a: AdminSeed): Record<string, unknown> {
  const now = nowSql();
  return {
    uuid: '', roleid: a.roleid ?? 1, username: a.username, password: '', passwordhash: '',
    authmodule: a.authmodule ?? '', authdata: a.authdata ?? '',
    firstname: a.firstname ?? a.username, lastname: a.lastname ?? 'Admin',
    email: a.email ?? `${a.username}@example.com`, signature: '', notes: '', template: 'blend', language: 'english',
    disabled: a.disabled ?? 0, loginattempts: 0, supportdepts: '', ticketnotifications: '', homewidgets: '',
    password_reset_key: '', password_reset_data: '', password_reset_expiry: '0000-00-00 00:00:00',
    hidden_widgets: '', widget_order: '', created_at: now, updated_at: now,
  };
}

interface UserSeed {
  email: string;
  second_factor?: string;
  second_factor_config?: string | null;
  first_name?: string;
  last_name?: string;
}

export function userRow(u: UserSeed): Record<string, unknown> {
  const now = nowSql();
  return {
    first_name: u.first_name ?? 'Test', last_name: u.last_name ?? 'User', email: u.email, password: '',
    language: '', second_factor: u.second_factor ?? '', second_factor_config: u.second_factor_config ?? null,
    created_at: now, updated_at: now,
  };
}

interface ClientSeed {
  email: string;
  status?: 'Active' | 'Inactive' | 'Closed';
  authmodule?: string;
  authdata?: string;
  firstname?: string;
  lastname?: string;
}

export function clientRow(c: ClientSeed): Record<string, unknown> {
  const now = nowSql();
  const blank = [
    'companyname', 'address1', 'address2', 'city', 'state', 'postcode', 'country', 'phonenumber', 'password',
    'defaultgateway', 'notes', 'securityqans', 'cardlastfour', 'cardnum', 'startdate', 'expdate', 'issuenumber',
    'bankname', 'banktype', 'bankcode', 'bankacct', 'gatewayid', 'ip', 'host', 'language', 'pwresetkey',
  ];
  const row: Record<string, unknown> = Object.fromEntries(blank.map((k) => [k, '']));
  Object.assign(row, {
    uuid: '', firstname: c.firstname ?? 'Test', lastname: c.lastname ?? 'Client', email: c.email,
    authmodule: c.authmodule ?? '', authdata: c.authdata ?? '', currency: 1, credit: 0, taxexempt: 0,
    latefeeoveride: 0, overideduenotices: 0, separateinvoices: 0, disableautocc: 0, datecreated: now.slice(0, 10),
    billingcid: 0, securityqid: 0, groupid: 0, status: c.status ?? 'Active', emailoptout: 0, overrideautoclose: 0,
    created_at: now, updated_at: now, pwresetexpiry: '0000-00-00 00:00:00',
  });
  return row;
}

export async function insertAdmin(knex: Knex, a: AdminSeed): Promise<number> {
  const [id] = await knex('tbladmins').insert(adminRow(a));
  return Number(id);
}

export async function insertUser(knex: Knex, u: UserSeed): Promise<number> {
  const [id] = await knex('tblusers').insert(userRow(u));
  return Number(id);
}

export async function insertClient(knex: Knex, c: ClientSeed): Promise<number> {
  const [id] = await knex('tblclients').insert(clientRow(c));
  return Number(id);
}

export async function linkUserToClient(knex: Knex, userId: number, clientId: number, owner = true): Promise<void> {
  await knex('tblusers_clients').insert({ auth_user_id: userId, client_id: clientId, invite_id: 0, owner: owner ? 1 : 0 });
}

export async function setConfigValue(knex: Knex, setting: string, value: string): Promise<void> {
  const n = await knex('tblconfiguration').where({ setting }).update({ value, updated_at: nowSql() });
  if (!n) await knex('tblconfiguration').insert({ setting, value, created_at: nowSql(), updated_at: nowSql() });
}
