/**
 * Errors of secrets encryption. Codes match the spec's injection details and
 * alerts (§9.3, §12.3); the HTTP layer maps them. Messages name key ids and
 * variables, never key material or plaintext.
 */

export type SecretsCryptoErrorCode =
  /** No master key configured (the server may generate one in dev mode). */
  | "master_key_missing"
  /** A configured key or key file is unusable: wrong length, not base64, unreadable. */
  | "master_key_invalid"
  /** The material was wrapped under a key id this process does not have. */
  | "master_key_unavailable"
  /** Authentication failed: ciphertext, nonce, wrapped key, AAD or key do not match. */
  | "integrity_failed";

export class SecretsCryptoError extends Error {
  readonly code: SecretsCryptoErrorCode;

  constructor(code: SecretsCryptoErrorCode, message: string) {
    super(message);
    this.name = "SecretsCryptoError";
    this.code = code;
  }
}

/** True when `err` is a {@link SecretsCryptoError} (optionally with `code`). */
export function isSecretsCryptoError(err: unknown, code?: SecretsCryptoErrorCode): err is SecretsCryptoError {
  return err instanceof SecretsCryptoError && (code === undefined || err.code === code);
}
