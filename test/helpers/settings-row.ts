import type { Knex } from 'knex';
import { php } from './php.js';

/** The `2fasettings` row exactly as stored (null when absent). */
export async function settingsRow(knex: Knex): Promise<{ id: number; value: string; created_at: string; updated_at: string } | null> {
  const row = await knex('tblconfiguration').where({ setting: '2fasettings' }).orderBy('id').first('id', 'value', 'created_at', 'updated_at');
  return row ? { id: Number(row.id), value: String(row.value), created_at: String(row.created_at), updated_at: String(row.updated_at) } : null;
}

export async function settingsValue(knex: Knex): Promise<string | null> {
  return (await settingsRow(knex))?.value ?? null;
}

export async function activityCount(knex: Knex): Promise<number> {
  const r = (await knex('tblactivitylog').count({ n: '*' }).first()) as { n: unknown };
  return Number(r.n);
}

export async function lastActivity(knex: Knex): Promise<Record<string, unknown>> {
  return (await knex('tblactivitylog').orderBy('id', 'desc').first()) as Record<string, unknown>;
}

/** The docs/data-model.md §4.1 decrypt in PHP, independent of the TypeScript implementation. */
export const PHP_DECRYPT = `
  function hk($h) { $m = md5($h); return sha1(md5($m) . $m, true); }
  function dec($b, $h) {
    $d = base64_decode($b); $key = substr($d, 0, 20) ^ hk($h); $body = substr($d, 20); $out = '';
    for ($c = 0; $c < strlen($body); $c++) {
      if ($c != 0 && $c % 20 == 0) { $key = sha1($key . substr($out, $c - 20, 20), true); }
      $out .= chr(ord($key[$c % 20]) ^ ord($body[$c]));
    }
    return $out;
  }`;

/**
 * How PHP (and so WHMCS's reader) sees a stored value: PHP's own unserialize(), returned as JSON so
 * ints stay ints and strings stay strings, plus whether PHP's serialize() gives the same bytes back.
 */
export function phpView(raw: string): { value: any; reserializes: boolean } {
  const out = php(
    `$raw = stream_get_contents(STDIN);
     $v = unserialize($raw, ['allowed_classes' => false]);
     if (!is_array($v)) { throw new Exception('PHP cannot unserialize it'); }
     echo json_encode(['value' => $v, 'reserializes' => serialize($v) === $raw]);`,
    raw,
  );
  return JSON.parse(out);
}

/** Duo keys as PHP decrypts them from a stored 2fasettings value. */
export function phpDecryptDuo(raw: string, ccHash: string): { integrationKey: string; secretKey: string; apiHostname: string } {
  return JSON.parse(
    php(
      `${PHP_DECRYPT}
       $s = unserialize(stream_get_contents(STDIN), ['allowed_classes' => false]);
       $d = $s['modules']['duosecurity'];
       echo json_encode(['integrationKey' => dec($d['integrationKey'], ${JSON.stringify(ccHash)}), 'secretKey' => dec($d['secretKey'], ${JSON.stringify(ccHash)}), 'apiHostname' => $d['apiHostname']]);`,
      raw,
    ),
  );
}
