/** Size limits of a secrets bundle (spec §9.1). Every field is configurable. */
export interface SecretsLimits {
  /** Bytes of the submitted file, and of the canonical file of a `{values}` PUT or a merge. */
  maxFileBytes: number;
  maxKeys: number;
  /** Characters of a key (keys are ASCII, so also bytes). */
  maxKeyLength: number;
  /**
   * Bytes of a value written in plain form. Also the longest value the
   * canonical file writes in plain form: a longer plain-representable value
   * (which can only have arrived base64-encoded) is kept in `base64:` form, so
   * the canonical file always parses again under the same limits.
   */
  maxPlainValueBytes: number;
  /** Bytes of a value after `base64:` decoding (and of a binary `{values}` value). */
  maxDecodedValueBytes: number;
}

/** The spec defaults: 256 KiB, 256 keys, 128-character keys, 8192-byte plain and 65 536-byte decoded values. */
export const DEFAULT_SECRETS_LIMITS: Readonly<SecretsLimits> = Object.freeze({
  maxFileBytes: 256 * 1024,
  maxKeys: 256,
  maxKeyLength: 128,
  maxPlainValueBytes: 8192,
  maxDecodedValueBytes: 65_536,
});

/** Fills unset fields from the defaults; rejects non-positive or non-integer limits. */
export function resolveSecretsLimits(overrides: Partial<SecretsLimits> = {}): SecretsLimits {
  const limits = { ...DEFAULT_SECRETS_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`secrets limit ${name} must be a positive integer`);
    }
  }
  return limits;
}
