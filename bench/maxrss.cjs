// Preloaded with `node --require` by the benchmark: writes this process's resource usage — peak
// resident set size (getrusage ru_maxrss, KiB: the counter GNU time's %M prints) and user/system CPU
// (µs) — as JSON to $WHMCS_2FA_BENCH_MAXRSS_FILE when the process exits, however it exits (natural
// end, process.exit, exitCode).
'use strict';
const file = process.env.WHMCS_2FA_BENCH_MAXRSS_FILE;
if (file) {
  process.on('exit', () => {
    const { maxRSS, userCPUTime, systemCPUTime } = process.resourceUsage();
    require('node:fs').writeFileSync(file, JSON.stringify({ maxRSS, userCPUTime, systemCPUTime }));
  });
}
