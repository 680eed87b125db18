/**
 * The three security modules WHMCS ships (docs/data-model.md §1.3, §9): their stored names, the names
 * people type, labels, and config fields in declaration order (WHMCS writes new entries in that order).
 */
export interface ModuleField {
  key: string;
  label: string;
  /** `password` fields are stored through WHMCS encrypt(); `text` fields in plaintext. */
  type: 'password' | 'text';
  secret: boolean;
}

interface ModuleInfo {
  name: string;
  label: string;
  aliases: string[];
  fields: ModuleField[];
}

export const MODULES: ModuleInfo[] = [
  { name: 'totp', label: 'Time-Based Tokens', aliases: ['totp', 'time-based', 'tokens'], fields: [] },
  {
    name: 'duosecurity',
    label: 'Duo Security',
    aliases: ['duo', 'duosecurity', 'duo-security'],
    fields: [
      { key: 'integrationKey', label: 'Client ID', type: 'password', secret: false },
      { key: 'secretKey', label: 'Client Secret', type: 'password', secret: true },
      { key: 'apiHostname', label: 'API Hostname', type: 'text', secret: false },
    ],
  },
  {
    name: 'yubico',
    label: 'YubiKey',
    aliases: ['yubico', 'yubikey'],
    fields: [
      { key: 'clientid', label: 'Client ID', type: 'text', secret: false },
      { key: 'secretkey', label: 'Secret Key', type: 'text', secret: true },
    ],
  },
];

export const SERVICE_NAMES = ['totp', 'duo', 'yubikey', 'duosecurity', 'yubico'];

export function moduleInfo(name: string): ModuleInfo | undefined {
  return MODULES.find((m) => m.name === name);
}

/** `duo` → `duosecurity`; unknown names come back undefined so callers can say "unknown service". */
export function resolveModuleName(input: string): string | undefined {
  const s = input.trim().toLowerCase();
  return MODULES.find((m) => m.aliases.includes(s))?.name;
}

export function moduleLabel(name: string): string {
  return moduleInfo(name)?.label ?? `${name} (third-party module)`;
}
