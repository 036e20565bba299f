// Errors the pure domain throws for inputs that can never be valid (a programming or configuration
// mistake, never a transient condition). Each sets `name` and keeps `cause`, as
// docs/architecture.md "Conventions" asks.

/** Base class of the domain's errors, so callers can map all of them to a permanent failure. */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A KMS provider name that cannot name a revision (empty or blank). */
export class InvalidProviderNameError extends DomainError {
  override readonly name = 'InvalidProviderNameError';
}

/** A revision number that is not a positive safe integer. */
export class InvalidRevisionNumberError extends DomainError {
  override readonly name = 'InvalidRevisionNumberError';
}
