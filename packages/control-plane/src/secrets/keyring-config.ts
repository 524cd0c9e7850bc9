// The server's secrets keyring: read from the environment at start-up
// (loadServerConfig), then settled once a logger exists (startServer). A
// missing key is not a start-up error: the API runs and only secret writes
// answer 503 (in dev mode an ephemeral key is generated instead).
import { KernelError } from "@plfm/kernel";
import { isSecretsCryptoError } from "./errors.ts";
import {
  decodeMasterKey,
  generateMasterKey,
  Keyring,
  loadKeyring,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE_ENV,
} from "./keyring.ts";

/**
 * The configured keyring, or null when no master key is set.
 * @throws SecretsCryptoError `master_key_invalid` for a key that is set but unusable
 */
export function loadSecretsKeyring(env: NodeJS.ProcessEnv): Keyring | null {
  try {
    return loadKeyring(env);
  } catch (err) {
    if (isSecretsCryptoError(err, "master_key_missing")) return null;
    throw err;
  }
}

/** The slice of a pino logger this needs. */
export interface WarnLogger {
  warn(obj: object, msg?: string): void;
}

/**
 * The keyring the server runs with. Without a configured key, dev mode gets a
 * fresh random one, announced loudly, because everything it encrypts becomes
 * unreadable at the next restart; production gets none (null).
 */
export function resolveSecretsKeyring(
  config: { secretsKeyring?: Keyring | null; dev: boolean },
  logger: WarnLogger,
): Keyring | null {
  if (config.secretsKeyring) return config.secretsKeyring;
  if (!config.dev) return null;
  const key = decodeMasterKey(generateMasterKey(), "generated dev key");
  try {
    const keyring = new Keyring({ key });
    logger.warn(
      { secrets_master_key_id: keyring.currentId, ephemeral: true },
      `PLFM_DEV: no ${MASTER_KEY_ENV} set; generated an EPHEMERAL secrets master key (id ${keyring.currentId}). ` +
        "Secrets written now cannot be decrypted after this process exits. Never run production like this.",
    );
    return keyring;
  } finally {
    key.fill(0);
  }
}

/**
 * The keyring, or 503 `unavailable` when the server has none. Not retryable:
 * the answer only changes when an operator configures a key and restarts.
 */
export function requireKeyring(keyring: Keyring | null | undefined): Keyring {
  if (keyring) return keyring;
  throw new KernelError(
    "unavailable",
    `Secrets are unavailable: this server has no secrets master key. The operator must set ${MASTER_KEY_ENV} or ${MASTER_KEY_FILE_ENV} and restart.`,
    { retryable: false },
  );
}
