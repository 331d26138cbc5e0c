/** A mistake in how the command was called: printed as one line with the usage hint. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Errors whose message alone tells the user what is wrong: printed as one line, no stack. */
export const userFacingErrors = new Set([
  'UsageError',
  'ConfigError',
  'DatabaseConnectError',
  'MigrationError',
  'AnvilStartError',
  'PortInUseError',
  'NotAnvilError',
])
