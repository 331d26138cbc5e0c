/**
 * The two ways a read can fail that are the caller's doing. REST answers 400 / 404 and gRPC
 * INVALID_ARGUMENT / NOT_FOUND; anything else is ours (500 / INTERNAL), logged, never detailed.
 */

/** A parameter is malformed or out of range; `parameter` names it, the message says what is expected. */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError'
  constructor(readonly parameter: string, message: string) {
    super(`${parameter}: ${message}`)
  }
}

/** The entity asked for is not indexed (it does not exist, or not yet). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError'
}
