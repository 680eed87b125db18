import { execFileSync } from 'node:child_process';

/**
 * TOTP codes from the reference implementation (OATH Toolkit): `count` consecutive codes, the
 * first for the 30 s step containing `unixSeconds`.
 */
export function oathtoolTotp(secretBase32: string, unixSeconds: number, count = 1): string[] {
  const args = ['--totp', '-b', secretBase32, '-N', `@${unixSeconds}`];
  if (count > 1) args.push('-w', String(count - 1));
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim().split('\n');
}
