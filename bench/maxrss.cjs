// Preloaded with `node --require` by the benchmark: writes this process's peak resident set size
// (getrusage ru_maxrss, in KiB) to $WHMCS_2FA_BENCH_MAXRSS_FILE when the process exits, however it
// exits (natural end, process.exit, exitCode). Node reports the same counter GNU time's %M prints.
'use strict';
const file = process.env.WHMCS_2FA_BENCH_MAXRSS_FILE;
if (file) {
  process.on('exit', () => {
    require('node:fs').writeFileSync(file, String(process.resourceUsage().maxRSS));
  });
}
