/** A UTC `YYYY-MM-DD HH:MM:SS`, as WHMCS's timestamp columns hold it. */
export function nowSql(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
