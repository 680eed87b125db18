import type { Install } from '../connection/install.js';

/**
 * Where each audience keeps its second factor (docs/data-model.md §2.1): admins in tbladmins everywhere;
 * clients in tblclients on 7.x; users in tblusers on 8.x.
 */
export type Kind = 'admin' | 'user' | 'client';

export interface AccountTable {
  kind: Kind;
  table: string;
  moduleColumn: string;
  dataColumn: string;
  audience: 'admins' | 'clients';
  /** Plural for messages. */
  plural: string;
}

export const ADMINS: AccountTable = { kind: 'admin', table: 'tbladmins', moduleColumn: 'authmodule', dataColumn: 'authdata', audience: 'admins', plural: 'admins' };
export const USERS: AccountTable = { kind: 'user', table: 'tblusers', moduleColumn: 'second_factor', dataColumn: 'second_factor_config', audience: 'clients', plural: 'users' };
export const CLIENTS: AccountTable = { kind: 'client', table: 'tblclients', moduleColumn: 'authmodule', dataColumn: 'authdata', audience: 'clients', plural: 'clients' };

/** The table that drives client-side login on this install. */
export function clientSideTable(install: Install): AccountTable {
  return install.shape === '8' ? USERS : CLIENTS;
}

export function tableFor(kind: Kind): AccountTable {
  return kind === 'admin' ? ADMINS : kind === 'user' ? USERS : CLIENTS;
}

/** WHMCS treats the module column with PHP truthiness: '' and '0' are both "off". */
export function moduleIsOn(v: unknown): boolean {
  return typeof v === 'string' ? v !== '' && v !== '0' : Boolean(v);
}
