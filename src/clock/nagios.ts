/**
 * Nagios/Icinga plugin output (plugin API v3): one status line with performance data after "|",
 * then long output, one server per line. The exit code is `report.status`.
 *
 * Thresholds in perfdata are the bare limits (`;5;15`), as check_ntp_time prints them: the offset
 * is judged by its absolute value, which graphers read correctly from that form.
 */
import { signedSeconds, type ClockReport } from './verdict.js';
import type { ServerResult } from './sntp.js';
import { formatMargin } from './windows.js';

/** '|' would start perfdata and newlines would start long output; neither may leak from messages. */
function clean(text: string): string {
  return text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ');
}

/** Plain decimal, microsecond resolution, no exponent, no "-0". */
function perfNumber(value: number): string {
  return String(Number(value.toFixed(6)));
}

function serverLine(s: ServerResult): string {
  const name = s.address && s.address !== s.host ? `${s.host} (${s.address})` : s.host;
  if (s.error) return clean(s.error.message);
  const parts = [
    `offset ${signedSeconds(s.offset as number)}`,
    `delay ${(s.delay as number).toFixed(3)} s`,
    `stratum ${s.stratum}`,
    `refid ${s.refid}`,
    ...s.notes,
  ];
  return clean(`${name}: ${parts.join(', ')}`);
}

export function formatNagios(report: ClockReport): string {
  const { warning, critical } = report.thresholds;
  const w = perfNumber(warning);
  const c = perfNumber(critical);
  const text: string[] = [];
  const perf: string[] = [];

  if (report.offset === null) {
    const why = report.servers.map((s) => `${s.host}: ${s.error?.kind ?? 'no answer'}`).join(', ');
    text.push(`no NTP server gave usable time (${why})`);
    perf.push(`offset=U;${w};${c}`);
  } else {
    const totp = report.totpVerdict!;
    const consequence =
      totp.level === 'fails'
        ? ' (codes always fail)'
        : totp.level === 'intermittent'
          ? ` (about ${Math.round(totp.failingShare * 100)}% of codes rejected)`
          : '';
    text.push(`offset ${signedSeconds(report.offset)}`);
    text.push(`TOTP margin ${formatMargin(report.totpMarginSeconds!)} s${consequence}`);
    if (report.disagree) text.push(`servers disagree by ${report.spread!.toFixed(1)} s`);
    perf.push(`offset=${perfNumber(report.offset)}s;${w};${c}`);
    perf.push(`delay=${perfNumber(report.delay as number)}s`);
  }

  if (report.database) {
    if (report.database.offset !== null) {
      text.push(`database offset ${signedSeconds(report.database.offset)}`);
      perf.push(`db_offset=${perfNumber(report.database.offset)}s;${w};${c}`);
    } else {
      text.push(`database clock unreadable`);
      perf.push(`db_offset=U;${w};${c}`);
    }
  }
  perf.push(`servers=${report.validServers};;;0;${report.servers.length}`);

  const head = `CLOCK ${report.statusName} - ${clean(text.join(', '))} | ${perf.join(' ')}`;
  const long = report.servers.map(serverLine);
  if (report.database?.error) long.push(clean(`database: ${report.database.error}`));
  if (report.disagree) long.push(clean(report.notes.find((n) => n.startsWith('servers disagree')) ?? ''));
  return [head, ...long].join('\n');
}
