import { readFileSync } from 'node:fs';

// A built-in a library requires at load but uses only on a path this tool takes rarely: mysql2's
// TLS, for encrypted connections. It loads on first use instead (tls costs a run ~8 ms).
const LAZY = [
  { file: /[\\/]mysql2[\\/]lib[\\/]base[\\/]connection\.js$/, name: 'Tls', module: 'tls' },
  { file: /[\\/]mysql2[\\/]lib[\\/]auth_plugins[\\/]sha256_password\.js$/, name: 'Tls', module: 'tls' },
];

export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onLoad({ filter: /[\\/]mysql2[\\/]lib[\\/].*\.js$/ }, (args) => {
      const lazy = LAZY.filter((l) => l.file.test(args.path));
      if (!lazy.length) return undefined;
      let code = readFileSync(args.path, 'utf8');
      for (const { name, module } of lazy) {
        const eager = `const ${name} = require('${module}');`;
        if (!code.includes(eager)) throw new Error(`${args.path}: "${eager}" not found; update scripts/build/lazy-builtins.mjs`);
        // A function proxy, so calls work as well as property reads (`Tls.connect(…)`).
        const load = `(__lazy_${name} ??= require('${module}'))`;
        code = code.replace(
          eager,
          `let __lazy_${name}; const ${name} = new Proxy(function () {}, { apply: (_t, self, args) => Reflect.apply(${load}, self, args), get: (_t, key) => ${load}[key] });`,
        );
      }
      return { contents: code, loader: 'js' };
    });
  },
};
