// The built program (dist/cli.cjs) with Duo's transport replaced by a plain-HTTP client aimed at
// the local Duo stand-in named by $DUO_MOCK_URL (test/helpers/duo-mock.ts). Duo pins its own CAs,
// so no local HTTPS server can answer the real client; the product itself reads no such variable.
'use strict';
const axios = require('axios');
const { main } = require('../../dist/cli.cjs');

const base = process.env.DUO_MOCK_URL;
if (!base) throw new Error('DUO_MOCK_URL is not set');
main(process.argv, { duoHttpClient: axios.create({ baseURL: base }) }).then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`Error: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  },
);
