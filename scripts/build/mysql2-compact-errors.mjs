import { createRequire } from 'node:module';

// mysql2's error-code table is ~4 000 assignment statements (145 KB) run at load; the same object
// from one JSON literal, built on first use, costs a fraction of that.
export const compactErrors = {
  name: 'mysql2-compact-errors',
  setup(b) {
    b.onLoad({ filter: /[\\/]mysql2[\\/]lib[\\/]constants[\\/]errors\.js$/ }, (args) => {
      const table = createRequire(import.meta.url)(args.path);
      // name → code, and code → name as its inverse plus the few codes the file maps differently.
      const names = Object.fromEntries(Object.entries(table).filter(([k]) => !/^\d+$/.test(k)));
      const inverse = Object.fromEntries(Object.entries(names).map(([n, c]) => [c, n]));
      const extra = Object.fromEntries(Object.entries(table).filter(([k, v]) => /^\d+$/.test(k) && inverse[k] !== v));
      // Built on first use: only an error packet (or a pool limit) ever looks a code up.
      const contents =
        `'use strict';let t;const l=()=>t??=(()=>{const o={},n=JSON.parse(${JSON.stringify(JSON.stringify(names))});` +
        `Object.assign(o,n);for(const k in n)o[n[k]]=k;return Object.assign(o,${JSON.stringify(extra)})})();` +
        `module.exports=new Proxy({},{get:(_,k)=>l()[k],has:(_,k)=>k in l(),ownKeys:()=>Reflect.ownKeys(l()),` +
        `getOwnPropertyDescriptor:(_,k)=>Reflect.getOwnPropertyDescriptor(l(),k)});`;
      return { contents, loader: 'js' };
    });
  },
};
