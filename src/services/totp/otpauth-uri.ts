/**
 * The provisioning URI an authenticator app scans, as WHMCS 8.12 builds it: PHP's rawurlencode, and
 * the issuer taken from the System URL's host.
 */

/** PHP rawurlencode: everything but A-Z a-z 0-9 - _ . ~ as %XX of the UTF-8 bytes. */
export function rawurlencode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The WHMCS 8.12 provisioning URI: otpauth://totp/<issuer>:<account>?secret=…&issuer=<issuer>. */
export function otpauthUri({ issuer, account, secret }: { issuer: string; account: string; secret: string }): string {
  const i = rawurlencode(issuer);
  return `otpauth://totp/${i}:${rawurlencode(account)}?secret=${rawurlencode(secret)}&issuer=${i}`;
}

/**
 * WHMCS uses the host of the System URL as issuer (PHP `parse_url` host: case kept, no port or
 * user info); 'WHMCS' when there is none. A URL typed without a scheme is read as http.
 */
export function issuerFromSystemUrl(systemUrl: string | null | undefined): string {
  const raw = (systemUrl ?? '').trim();
  if (raw === '') return 'WHMCS';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(withScheme)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const host = hostPort.startsWith('[') ? hostPort.slice(0, hostPort.indexOf(']') + 1) : hostPort.replace(/:\d*$/, '');
  return host === '' ? 'WHMCS' : host;
}
