/**
 * The credentials an activation stores for Duo Security and Yubico: the values given on this run,
 * the ones kept from the `2fasettings` row (decrypted and checked), the ones missing, and what Duo
 * or Yubico would refuse — each problem naming the flag that fixes it.
 */
import { decryptField } from './module-settings.js';
import { requireKeyAgreement } from '../crypto/key-check.js';
import { modulesOf, readSettingsRow } from './settings.js';
import type { Session } from '../connection/session.js';
import { moduleInfo, type ModuleField } from '../../services/catalog.js';
import { DUO_CLIENT_ID_LENGTH, DUO_CLIENT_SECRET_LENGTH, validateDuoCredentials } from '../../services/duo.js';
import { validateYubicoClientId, validateYubicoSecretKey } from '../../services/yubico-client.js';
import { DecryptError } from '../../errors.js';

/** Duo Universal refuses anything else; a wrong cc_encryption_hash decrypts to other lengths. */
const REQUIRED_LENGTH: Record<string, number> = { integrationKey: DUO_CLIENT_ID_LENGTH, secretKey: DUO_CLIENT_SECRET_LENGTH };

/** Which flag sets a config field on the command line, for messages. */
export const FIELD_FLAG: Record<string, Record<string, string>> = {
  duosecurity: { integrationKey: '--client-id', secretKey: '--client-secret', apiHostname: '--api-hostname' },
  yubico: { clientid: '--client-id', secretkey: '--secret-key' },
};

interface ModuleConfigState {
  /** Plaintext values to end up with: the ones given on this run, else the usable stored ones. */
  values: Record<string, string>;
  /** Fields with neither a given value nor a stored one: ask for them or refuse. */
  missing: ModuleField[];
  /** Fields whose stored value is kept (not given on this run). */
  kept: string[];
  warnings: string[];
}

/**
 * Works out the credentials an activation will store: the given values win; a field not given keeps
 * its stored value — which must decrypt (Duo's `password` fields) to something Duo accepts, or the
 * run refuses with exit 6, because a wrong cc_encryption_hash is the usual cause and re-saving
 * garbage would hide it.
 */
export async function resolveModuleConfig(session: Session, module: string, given: Record<string, string>): Promise<ModuleConfigState> {
  const info = moduleInfo(module);
  const out: ModuleConfigState = { values: {}, missing: [], kept: [], warnings: [] };
  if (!info || info.fields.length === 0) return out;
  const row = await readSettingsRow(session);
  const entry = modulesOf(row.parsed)[module] ?? {};
  const hasPassword = info.fields.some((f) => f.type === 'password');
  const H = hasPassword ? session.requireCcHash(`${info.label} keeps its keys encrypted with WHMCS encrypt(), so activating it`) : undefined;
  const undecryptable: ModuleField[] = [];
  for (const f of info.fields) {
    const stored = storedPlain(f, entry[f.key], H);
    if (stored.bad) undecryptable.push(f);
    if (f.key in given) {
      out.values[f.key] = given[f.key]!;
    } else if (stored.bad) {
      continue;
    } else if (stored.value === null || stored.value === '') {
      out.missing.push(f);
    } else {
      out.values[f.key] = stored.value;
      out.kept.push(f.key);
    }
  }
  const blocking = undecryptable.filter((f) => !(f.key in given));
  if (blocking.length) {
    const names = blocking.map((f) => f.label).join(' and ');
    const flags = blocking.map((f) => FIELD_FLAG[module]?.[f.key]).filter(Boolean).join(' and ');
    throw new DecryptError(
      `the stored ${info.label} ${names} ${blocking.length === 1 ? 'does' : 'do'} not decrypt to a valid value with this cc_encryption_hash — it is probably not the one WHMCS saved ${blocking.length === 1 ? 'it' : 'them'} with (check --whmcs-dir / WHMCS_CC_ENCRYPTION_HASH), or give new ones with ${flags}`,
    );
  }
  if (hasPassword) {
    // Prove the key before encrypting with it (key-check.ts). Stored keys this run replaces do not
    // count: they may be the very thing being repaired.
    const replaced = new Set(info.fields.filter((f) => f.type === 'password' && f.key in given).map((f) => `2fasettings ${module}.${f.key}`));
    const agreement = await requireKeyAgreement(session, `encrypting the ${info.label} keys`, { replacing: (p) => replaced.has(p.source) });
    out.warnings.push(...agreement.warnings);
  }
  if (undecryptable.length) {
    out.warnings.push(
      `the stored ${info.label} keys did not decrypt with this cc_encryption_hash: if it is not the one in WHMCS's configuration.php, WHMCS will not be able to read the new ones either`,
    );
  }
  return out;
}

/** A stored field as plaintext; `bad` when an encrypted one does not decrypt to a usable value. */
export function storedPlain(f: ModuleField, stored: unknown, H: string | undefined): { value: string | null; bad: boolean } {
  if (stored === undefined || stored === null) return { value: null, bad: false };
  if (f.type !== 'password') return { value: String(stored), bad: false };
  const d = decryptField(stored, H);
  if (d.problem || d.value === null) return { value: null, bad: true };
  // encrypt('') decrypts to '' under any key: an emptied field, not a key problem.
  if (d.value === '') return { value: '', bad: false };
  const want = REQUIRED_LENGTH[f.key];
  if (want !== undefined && d.value.length !== want) return { value: null, bad: true };
  return { value: d.value, bad: false };
}

/** Problems with the credentials about to be stored, each naming the flag that fixes it. */
export function validateModuleConfig(module: string, values: Record<string, string>, kept: string[] = []): string[] {
  const stored = (key: string) => (kept.includes(key) ? ` (the stored value — give a new one with ${FIELD_FLAG[module]?.[key]})` : '');
  if (module === 'duosecurity') {
    const keyOf = { clientId: 'integrationKey', clientSecret: 'secretKey', apiHostname: 'apiHostname' } as const;
    return validateDuoCredentials({
      clientId: values.integrationKey ?? '',
      clientSecret: values.secretKey ?? '',
      apiHostname: values.apiHostname ?? '',
    }).map((p) => p.message + stored(keyOf[p.field]));
  }
  if (module === 'yubico') {
    const problems: string[] = [];
    const id = validateYubicoClientId(values.clientid ?? '');
    if (id) problems.push(`Yubico ${id}${stored('clientid')}`);
    const key = validateYubicoSecretKey(values.secretkey ?? '');
    if (key) problems.push(`Yubico ${key}${stored('secretkey')}`);
    return problems;
  }
  return [];
}
