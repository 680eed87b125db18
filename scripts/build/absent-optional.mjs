// Optional packages libraries try to require at load, inside try/catch, for debug output only
// (mysql2: cardinal for highlighting SQL; debug: supports-color). Neither is installed, and the
// failing lookup walks every node_modules up the tree (~2 ms a run): settled at build time.
const ABSENT_OPTIONAL = /^(cardinal|supports-color)$/;

export const absentOptional = {
  name: 'absent-optional',
  setup(b) {
    b.onResolve({ filter: ABSENT_OPTIONAL }, (args) => ({ path: args.path, namespace: 'absent-optional' }));
    b.onLoad({ filter: /.*/, namespace: 'absent-optional' }, (args) => ({
      contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find module '${args.path}'`)}), { code: 'MODULE_NOT_FOUND' });`,
      loader: 'js',
    }));
  },
};
