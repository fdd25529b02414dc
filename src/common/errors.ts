// Errors that decide a daemon's exit status.

/** EX_CONFIG from sysexits.h: the unit's RestartPreventExitStatus=78 keeps systemd from looping on it. */
export const EXIT_CONFIG = 78;

/** Bad configuration (file, flag or environment): fix the input, restarting will not help. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly exitCode = EXIT_CONFIG;
}
