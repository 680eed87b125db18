import { randomBytes } from 'node:crypto';
import { startFakeNtp, type FakeRequest } from '../../helpers/ntp-fake.js';
import type { BadInput, CaseEnv } from '../harness.js';

/** A UDP "NTP server" on loopback that answers every request with `junk`. */
const junkServer = (junk: (req: FakeRequest) => Buffer) => async (e: CaseEnv) => {
  const f = await startFakeNtp((req) => junk(req));
  e.vars.server = `127.0.0.1:${f.port}`;
  e.cleanup.push(() => f.close());
};

const clockCheck = (e: CaseEnv, ...more: string[]) => ['clock-check', '--server', e.vars.server!, '--timeout', '1', '--samples', '2', ...more];

/** Garbage from the only NTP server is "no usable time": CRITICAL (2), or UNKNOWN (3) when asked — never a crash. */
export const ntpCases: BadInput[] = [
  {
    name: 'clock-check: a server answering text',
    backends: ['sqlite'],
    setup: junkServer(() => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')),
    args: (e) => clockCheck(e, '--no-db'),
    exit: 2,
    expect: { report: /"kind": "timeout",\s*"message": "[^"]*1 malformed[\s\S]*"statusName": "CRITICAL"/ },
  },
  {
    name: 'clock-check: a server answering 48 random bytes, --unknown-if-unreachable',
    backends: ['sqlite'],
    setup: junkServer(() => randomBytes(48)),
    args: (e) => clockCheck(e, '--no-db', '--unknown-if-unreachable'),
    exit: 3,
    expect: { report: /"statusName": "UNKNOWN"/ },
  },
  {
    name: 'clock-check: a server answering one byte, nagios format',
    backends: ['sqlite'],
    setup: junkServer(() => Buffer.from([0xff])),
    args: (e) => clockCheck(e, '--no-db', '--format', 'nagios'),
    exit: 2,
    expect: { report: /^CLOCK CRITICAL - / },
  },
  {
    name: 'clock-check: a server echoing the request back (mode 3, not a reply)',
    backends: ['sqlite'],
    setup: junkServer((req) => Buffer.from(req.packet)),
    args: (e) => clockCheck(e, '--no-db'),
    exit: 2,
    expect: { report: /"statusName": "CRITICAL"/ },
  },
  {
    name: 'clock-check with the WHMCS database configured and a junk NTP server',
    setup: junkServer(() => Buffer.alloc(68, 0x5a)),
    args: (e) => ['--whmcs-dir', e.t.whmcsDir, ...clockCheck(e)],
    exit: 2,
    expect: { report: /"statusName": "CRITICAL"/ },
  },
];
