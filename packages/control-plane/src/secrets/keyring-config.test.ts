import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import { isSecretsCryptoError } from "./errors.ts";
import { Keyring } from "./keyring.ts";
import { loadSecretsKeyring, requireKeyring, resolveSecretsKeyring } from "./keyring-config.ts";

function recorder() {
  const lines: { obj: object; msg: string | undefined }[] = [];
  return { lines, warn: (obj: object, msg?: string) => lines.push({ obj, msg }) };
}

describe("secrets keyring configuration", () => {
  test("no key is null, a key is a keyring, a bad key throws master_key_invalid", () => {
    assert.equal(loadSecretsKeyring({}), null);
    const key = randomBytes(32).toString("base64");
    assert.equal(
      loadSecretsKeyring({ PLFM_SECRETS_MASTER_KEY: key, PLFM_SECRETS_MASTER_KEY_ID: "k9" })?.currentId,
      "k9",
    );
    assert.throws(
      () => loadSecretsKeyring({ PLFM_SECRETS_MASTER_KEY: "bm90IDMyIGJ5dGVz" }),
      (err: unknown) => isSecretsCryptoError(err, "master_key_invalid"),
    );
  });

  test("a configured keyring is used as is, in any mode, without a warning", () => {
    const configured = new Keyring({ key: randomBytes(32) });
    for (const dev of [true, false]) {
      const log = recorder();
      assert.equal(resolveSecretsKeyring({ secretsKeyring: configured, dev }, log), configured);
      assert.equal(log.lines.length, 0);
    }
  });

  test("dev mode without a key generates an ephemeral one, loudly; production gets none", () => {
    const log = recorder();
    const a = resolveSecretsKeyring({ secretsKeyring: null, dev: true }, log);
    const b = resolveSecretsKeyring({ dev: true }, log);
    assert.ok(a && b && a.currentId !== b.currentId, "a fresh key each time");
    assert.equal(log.lines.length, 2);
    assert.match(log.lines[0]?.msg ?? "", /EPHEMERAL/);
    assert.match(log.lines[0]?.msg ?? "", /PLFM_SECRETS_MASTER_KEY/);
    const quiet = recorder();
    assert.equal(resolveSecretsKeyring({ secretsKeyring: null, dev: false }, quiet), null);
    assert.equal(quiet.lines.length, 0);
  });

  test("requireKeyring: none is 503 unavailable, not retryable, naming the variable", () => {
    const keyring = new Keyring({ key: randomBytes(32) });
    assert.equal(requireKeyring(keyring), keyring);
    for (const missing of [null, undefined]) {
      assert.throws(
        () => requireKeyring(missing),
        (err: unknown) =>
          isKernelError(err, "unavailable") && !err.retryable && /PLFM_SECRETS_MASTER_KEY/.test(err.message),
      );
    }
  });
});
