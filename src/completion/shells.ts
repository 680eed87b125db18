/** Shells `whmcs-2fa completion <shell>` writes a script for (kept import-free: `--help` loads it). */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Where each script is shipped in the package (`completions/`), under the name its shell looks for. */
export const SCRIPT_FILES: Record<Shell, string> = {
  bash: 'whmcs-2fa.bash',
  zsh: '_whmcs-2fa',
  fish: 'whmcs-2fa.fish',
};
