import { readFileSync } from 'node:fs';

// Small source edits to mysql2, each checked at build time:
// - it preallocates LRU caches — generated row parsers (15 000 entries, at load) and prepared
//   statements (16 000 per connection) — as four filled arrays each: ~4 ms apiece. A run issues a
//   handful of distinct queries through knex, which never prepares statements;
// - it decodes the server's version string in the handshake as CESU-8, which makes every connect
//   load iconv-lite's code pages (~2 ms). A version string is ASCII, and for anything without
//   characters beyond the BMP, CESU-8 and UTF-8 are the same bytes, so Node's own decoder does.
const EDITS = [
  { file: /[\\/]mysql2[\\/]lib[\\/]parsers[\\/]parser_cache\.js$/, from: 'max: 15000,', to: 'max: 256,' },
  { file: /[\\/]mysql2[\\/]lib[\\/]connection_config\.js$/, from: 'options.maxPreparedStatements || 16000', to: 'options.maxPreparedStatements || 64' },
  { file: /[\\/]mysql2[\\/]lib[\\/]packets[\\/]handshake\.js$/, from: "args.serverVersion = packet.readNullTerminatedString('cesu8');", to: "args.serverVersion = packet.readNullTerminatedString('utf8');" },
];

export const smallCaches = {
  name: 'mysql2-small-caches',
  setup(b) {
    for (const { file, from, to } of EDITS) {
      b.onLoad({ filter: file }, (args) => {
        const code = readFileSync(args.path, 'utf8');
        if (!code.includes(from)) throw new Error(`${args.path}: "${from}" not found; update scripts/build/mysql2-small-caches.mjs`);
        return { contents: code.replace(from, to), loader: 'js' };
      });
    }
  },
};
