import { readFileSync } from 'node:fs';

// commander requires child_process at load time, only to run git-style executable subcommands,
// which this program has none of. Loading it lazily keeps child_process, net, dgram and the
// stream modules out of `--help`.
export const lazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!code.includes(eager)) throw new Error(`${args.path}: the child_process require changed; update scripts/build/lazy-child-process.mjs`);
      return { contents: code.replace(eager, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
    });
  },
};
