// How the secrets library's errors reach a client. Both error types already
// keep values out of their messages (they name keys, lines, key ids); this is
// only the code mapping, and the place to keep it that way.
import { isSecretsFormatError } from "@plfm/contracts";
import { KernelError } from "@plfm/kernel";
import { isSecretsCryptoError } from "./errors.ts";

/**
 * A SecretsFormatError as 400 `invalid_secrets_format` / `secrets_too_large`
 * with one detail per problem ({field: key or `line N`, code, message});
 * a SecretsCryptoError as 503 (a master key is missing) or 500 (tampered
 * material); anything else unchanged.
 */
export function secretsProblem(err: unknown): unknown {
  if (isSecretsFormatError(err)) {
    return new KernelError(err.code, err.message, {
      details: err.details.map((d) => ({ field: d.field, code: d.code, message: d.message })),
    });
  }
  if (isSecretsCryptoError(err, "master_key_unavailable")) {
    // Names the key id the version needs, which an operator must add back.
    return new KernelError("unavailable", `Secrets cannot be decrypted: ${err.message}`, {
      cause: err,
      retryable: false,
    });
  }
  if (isSecretsCryptoError(err)) {
    return new KernelError("internal", `secrets ${err.code}: ${err.message}`, { cause: err });
  }
  return err;
}

/** Runs `fn`, passing its secrets errors through {@link secretsProblem}. */
export async function mappingSecretsErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw secretsProblem(err);
  }
}
