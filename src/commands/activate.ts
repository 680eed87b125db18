import type { Command } from 'commander';
import { action } from './run.js';
import type { Context } from '../context.js';
import type { Block, View } from '../ui/view.js';
import { UsageError, RefusedError } from '../errors.js';
import { MODULES, resolveModuleName } from '../services/catalog.js';
import type { ModuleField } from '../services/catalog.js';
import type { Audience } from '../whmcs/settings/settings.js';
import type { ServiceChangeJson } from '../whmcs/settings/service-change.js';
import type { ChangeResult } from '../whmcs/settings/settings-write.js';

interface ActivateOptions {
  clients?: boolean;
  admins?: boolean;
  clientId?: string;
  clientSecret?: string;
  apiHostname?: string;
  secretKey?: string;
  check?: boolean;
  checkOtp?: string;
  yubicoApiUrl?: string;
  force?: boolean;
  reason?: string;
}

export function register(program: Command): void {
  program
    .command('activate')
    .description('enable a security service for clients and/or admins (Time-Based Tokens, Duo Security, YubiKey)')
    .argument('<service>', 'totp | duo | yubikey (or the names WHMCS stores: duosecurity, yubico)')
    .option('--clients', 'enable it for clients/users (default: both audiences)')
    .option('--admins', 'enable it for admins (default: both audiences)')
    .option('--client-id <id>', 'Duo Client ID (20 characters) or Yubico API Client ID')
    .option('--client-secret <secret>', 'Duo Client Secret (40 characters); "-" reads it from stdin (also $WHMCS_DUO_CLIENT_SECRET)')
    .option('--api-hostname <host>', 'Duo API hostname, api-XXXXXXXX.duosecurity.com')
    .option('--secret-key <key>', 'Yubico API Secret Key (base64); "-" reads it from stdin (also $WHMCS_YUBICO_SECRET_KEY)')
    .option('--check', "Duo: run Duo's health check with the credentials first; a failed check writes nothing")
    .option('--check-otp <otp>', 'YubiKey: validate one OTP from a real key first; a failed check writes nothing')
    .option('--yubico-api-url <url>', 'Yubico validation server for --check-otp (default https://api.yubico.com)')
    .option('--force', 'rebuild an unreadable 2fasettings row from scratch (the old value goes to the undo journal)')
    .option('--reason <text>', 'why (recorded in the WHMCS activity log and the undo journal)')
    .action(action<ActivateOptions>(async (ctx, opts, args) => activate(ctx, opts, args[0]!)));
}

/** `duo` → `duosecurity`; anything unknown is a usage error that lists what is valid. */
export function resolveService(input: string): string {
  const module = resolveModuleName(input);
  if (!module) {
    const names = MODULES.map((m) => m.aliases.join('/')).join(', ');
    throw new UsageError(`unknown service "${input}" — use one of: ${names}`);
  }
  return module;
}

/** Neither flag means both audiences. */
export function audiencesOf(opts: { clients?: boolean; admins?: boolean }): Audience[] {
  if (!opts.clients && !opts.admins) return ['clients', 'admins'];
  return [...(opts.clients ? (['clients'] as const) : []), ...(opts.admins ? (['admins'] as const) : [])];
}

async function activate(ctx: Context, opts: ActivateOptions, service: string): Promise<View> {
  const module = resolveService(service);
  const audiences = audiencesOf(opts);
  refuseForeignOptions(module, opts);
  const warnings: string[] = [];
  const given = await givenConfig(ctx, module, opts, warnings);

  const session = await ctx.session();
  const sc = await import('../whmcs/settings/service-change.js');
  const mc = await import('../whmcs/settings/module-config.js');
  const cfg = await mc.resolveModuleConfig(session, module, given);
  warnings.push(...cfg.warnings);
  if (cfg.missing.length) await askMissing(ctx, module, cfg.missing, cfg.values);
  const problems = mc.validateModuleConfig(module, cfg.values, cfg.kept);
  if (problems.length) throw new UsageError(problems.join('; '));

  const { duoNeedsUniversalPrompt } = await import('../whmcs/connection/install.js');
  if (module === 'duosecurity' && duoNeedsUniversalPrompt(session.install)) {
    warnings.push(
      `WHMCS ${session.install.version} uses Duo's old iframe prompt, which stopped working on 2024-03-30 — Duo logins will fail until WHMCS is upgraded to 8.9+ (Universal Prompt)`,
    );
  }

  let check: ServiceChangeJson['check'];
  if (opts.check) {
    const { checkDuo } = await import('../whmcs/settings/activation-checks.js');
    const r = await checkDuo(
      { clientId: cfg.values.integrationKey!, clientSecret: cfg.values.secretKey!, apiHostname: cfg.values.apiHostname! },
      { httpClient: ctx.deps.duoHttpClient },
    );
    if (!r.ok) throw new RefusedError(`Duo health check failed: ${r.message} — nothing was written`, { check: r });
    check = r;
  }
  if (opts.checkOtp !== undefined) {
    const { checkYubicoOtp } = await import('../whmcs/settings/activation-checks.js');
    const r = await checkYubicoOtp({ otp: opts.checkOtp, clientId: cfg.values.clientid!, secretKey: cfg.values.secretkey!, apiUrl: opts.yubicoApiUrl });
    if (!r.ok) throw new RefusedError(`YubiKey check failed (${r.status}): ${r.message} — nothing was written`, { check: r });
    check = { kind: r.kind, ok: r.ok, status: r.status, message: r.message };
  }

  const result = await sc.activateService(
    session,
    { module, audiences, values: cfg.values, kept: cfg.kept, force: Boolean(opts.force), reason: opts.reason, showSecrets: ctx.showSecrets, warnings },
    ctx.changeOptions(`Activate ${module} for ${audiences.join(' and ')}?`),
  );
  if (check) result.json.check = check;
  return serviceChangeView(result, 'activate');
}

function refuseForeignOptions(module: string, opts: ActivateOptions): void {
  const wrong = (flag: string, forWhat: string) => new UsageError(`${flag} is only for ${forWhat}, not ${module}`);
  if (module !== 'duosecurity') {
    if (opts.clientSecret !== undefined) throw wrong('--client-secret', 'Duo Security');
    if (opts.apiHostname !== undefined) throw wrong('--api-hostname', 'Duo Security');
    if (opts.check) throw wrong('--check', 'Duo Security (YubiKey: --check-otp)');
  }
  if (module !== 'yubico') {
    if (opts.secretKey !== undefined) throw wrong('--secret-key', 'YubiKey');
    if (opts.checkOtp !== undefined) throw wrong('--check-otp', 'YubiKey');
    if (opts.yubicoApiUrl !== undefined) throw wrong('--yubico-api-url', 'YubiKey');
  }
  if (module === 'totp' && opts.clientId !== undefined) throw wrong('--client-id', 'Duo Security and YubiKey');
}

/** Config values given on this run, keyed as WHMCS stores them. Secrets: flag, "-" (stdin), or env. */
async function givenConfig(ctx: Context, module: string, opts: ActivateOptions, warnings: string[]): Promise<Record<string, string>> {
  const given: Record<string, string> = {};
  if (module === 'duosecurity') {
    if (opts.clientId !== undefined) given.integrationKey = opts.clientId.trim();
    if (opts.apiHostname !== undefined) given.apiHostname = opts.apiHostname.trim();
    const secret = await secretFrom(ctx, opts.clientSecret, 'WHMCS_DUO_CLIENT_SECRET', '--client-secret', 'Duo Client Secret', warnings);
    if (secret !== undefined) given.secretKey = secret;
  } else if (module === 'yubico') {
    if (opts.clientId !== undefined) given.clientid = opts.clientId.trim();
    const secret = await secretFrom(ctx, opts.secretKey, 'WHMCS_YUBICO_SECRET_KEY', '--secret-key', 'Yubico Secret Key', warnings);
    if (secret !== undefined) given.secretkey = secret;
  }
  return given;
}

export async function secretFrom(ctx: Context, flag: string | undefined, envName: string, flagName: string, label: string, warnings: string[]): Promise<string | undefined> {
  if (flag === '-') {
    // A terminal on stdin has nothing to read but the keyboard: the secret is asked for, without echo.
    if (ctx.io.isTTY('stdin')) return (await ctx.io.prompt.secret(label)).trim();
    const text = await readStdin(ctx.io.stdin);
    // Only the line ending a pipe or here-string adds; a secret never contains one.
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new UsageError(`${flagName} - read nothing from stdin — pipe the ${label} in`);
    return value;
  }
  if (flag !== undefined) {
    warnings.push(`${flagName} on the command line is visible to other users in the process list — prefer $${envName} or ${flagName} - (stdin)`);
    return flag;
  }
  const env = ctx.env[envName];
  return env !== undefined && env !== '' ? env : undefined;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks on a terminal for what is not configured yet; without one, says which flags are needed. */
async function askMissing(ctx: Context, module: string, missing: ModuleField[], values: Record<string, string>): Promise<void> {
  const { FIELD_FLAG } = await import('../whmcs/settings/module-config.js');
  if (!ctx.io.canPrompt) {
    const flags = missing.map((f) => FIELD_FLAG[module]?.[f.key] ?? f.key);
    const env = module === 'duosecurity' ? ' ($WHMCS_DUO_CLIENT_SECRET or - for stdin also work for the secret)' : ' ($WHMCS_YUBICO_SECRET_KEY or - for stdin also work for the key)';
    throw new UsageError(`${module === 'duosecurity' ? 'Duo Security' : 'YubiKey'} is not configured yet: give ${flags.join(', ')}${env}`);
  }
  for (const f of missing) values[f.key] = (f.secret ? await ctx.io.prompt.secret(f.label) : await ctx.io.prompt.input(f.label)).trim();
}

/** Human rendering shared by activate and deactivate. */
export function serviceChangeView(r: ChangeResult<ServiceChangeJson>, verb: 'activate' | 'deactivate'): View {
  const j = r.json;
  const label = MODULES.find((m) => m.name === j.service)?.label ?? j.service;
  const who = j.audiences.length === 2 ? 'clients and admins' : j.audiences[0];
  const done = verb === 'activate' ? 'activated' : 'deactivated';
  const blocks: Block[] = [];
  if (j.check) blocks.push({ kind: 'text', text: `Check passed: ${j.check.message}`, tone: 'ok' });
  if (j.dryRun && r.outcome.plan.rows.length) {
    blocks.push({ kind: 'diff', title: `Would change (dry run, nothing written):`, lines: j.diff });
  } else if (!j.changed) {
    blocks.push({ kind: 'text', text: `${label} is already ${verb === 'activate' ? 'active' : 'inactive'} for ${who} — nothing to change.`, tone: 'ok' });
  } else {
    const flagsChanged = j.before.clients !== j.after.clients || j.before.admins !== j.after.admins;
    blocks.push({ kind: 'diff', title: flagsChanged ? `${label} ${done} for ${who}:` : `${label} settings updated:`, lines: j.diff });
    blocks.push({ kind: 'text', text: `Recorded as ${j.journalId} — \`whmcs-2fa undo ${j.journalId}\` reverts it.`, tone: 'dim' });
  }
  return { json: j, blocks, warnings: j.warnings };
}
