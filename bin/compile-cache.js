// V8 code cache for whmcs-2fa's own bundles (dist/**/*.cjs). Parsing and compiling JavaScript is
// most of a run's start-up: knex and mysql2 alone cost three times Node's own start. With the code
// V8 compiled last time, a run skips that. Node 22.1+ does this itself (module.enableCompileCache);
// on Node 20 the bundles are compiled here with vm.Script and the cache V8 hands back is kept.
//
// The cache lives in $XDG_CACHE_HOME/whmcs-2fa (default ~/.cache), per Node version, and is used
// only from a directory owned by the current user and writable by nobody else: a code cache is
// executable code, and V8 does not check it against the source. Never a shared temp directory.
// An entry is keyed by the bundle's path, size and mtime, so a rebuild or upgrade never reuses one.
// NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch) turns it off. Any failure just compiles normally.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const DIST = path.join(__dirname, '..', 'dist') + path.sep;

function userCacheDir() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return null;
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, '.cache') : null);
  if (!base || !path.isAbsolute(base)) return null;
  return path.join(base, 'whmcs-2fa', `v8-${process.version}-${process.arch}`);
}

/** The directory exists, is ours, and no one else may write to it (or to its parent). */
function trusted(dir) {
  try {
    for (const d of [dir, path.dirname(dir)]) {
      const st = fs.statSync(d);
      if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** FNV-1a: a short, stable name for an absolute path (no crypto module at start-up). */
function fnv(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function install(dir) {
  if (typeof Module.enableCompileCache === 'function') {
    // Node 22.1+: the built-in cache (it checks entries against the source itself).
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (trusted(dir)) Module.enableCompileCache(dir);
    } catch {
      // no cache
    }
    return;
  }
  const vm = require('node:vm');
  const usable = trusted(dir);
  const pending = [];
  const compile = Module.prototype._compile;

  Module.prototype._compile = function compileWithCache(content, filename, ...rest) {
    if (!filename.startsWith(DIST) || !filename.endsWith('.cjs')) return compile.call(this, content, filename, ...rest);
    let st;
    try {
      st = fs.statSync(filename);
    } catch {
      return compile.call(this, content, filename, ...rest);
    }
    const prefix = `${fnv(filename)}-${path.basename(filename, '.cjs')}`;
    const entry = path.join(dir, `${prefix}-${st.size}-${Math.round(st.mtimeMs * 1000)}.v8`);
    let cachedData;
    if (usable) {
      try {
        cachedData = fs.readFileSync(entry);
      } catch {
        // first run of this build
      }
    }
    // The negative offset keeps columns on the first line (most of a minified bundle) true to the file.
    const script = new vm.Script(Module.wrap(content), { filename, cachedData, columnOffset: -Module.wrapper[0].length });
    if (!cachedData || script.cachedDataRejected) pending.push({ script, entry, prefix });
    const fn = script.runInThisContext({ displayErrors: true });
    const mod = this;
    const require = (id) => mod.require(id);
    require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
    require.main = process.mainModule;
    require.cache = Module._cache;
    return fn.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
  };

  // Written at exit, so the cache also holds the functions this run compiled lazily.
  process.once('exit', () => {
    if (!pending.length) return;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!trusted(dir)) return;
      const old = fs.readdirSync(dir);
      for (const { script, entry, prefix } of pending) {
        for (const f of old) if (f.startsWith(`${prefix}-`) && path.join(dir, f) !== entry) fs.rmSync(path.join(dir, f), { force: true });
        const tmp = `${entry}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, entry);
      }
    } catch {
      // a cache that cannot be written is no cache
    }
  });
}

const dir = userCacheDir();
if (dir) install(dir);
