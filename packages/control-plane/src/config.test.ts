import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConfigError,
  formatListenAddr,
  loadServerConfig,
  parseListenAddr,
  redactDatabaseUrl,
} from "./config.ts";

describe("parseListenAddr", () => {
  test("accepts host:port and [ipv6]:port", () => {
    assert.deepEqual(parseListenAddr("[::]:8080"), { host: "::", port: 8080 });
    assert.deepEqual(parseListenAddr("[::1]:0"), { host: "::1", port: 0 });
    assert.deepEqual(parseListenAddr("[fd70:6c66::1]:443"), { host: "fd70:6c66::1", port: 443 });
    assert.deepEqual(parseListenAddr("127.0.0.1:65535"), { host: "127.0.0.1", port: 65535 });
    assert.deepEqual(parseListenAddr("localhost:8080"), { host: "localhost", port: 8080 });
  });

  test("refuses what it cannot read unambiguously", () => {
    for (const bad of [
      "8080",
      ":8080",
      "::1:8080",
      "[::1]8080",
      "[::1:8080",
      "[127.0.0.1]:80",
      "host:",
      "host:65536",
      "host:-1",
      "host:80a",
      "[]:80",
    ]) {
      assert.throws(() => parseListenAddr(bad), Error, bad);
    }
  });

  test("formatListenAddr is its inverse", () => {
    for (const s of ["[::]:8080", "[fd70:6c66::1]:1", "0.0.0.0:80", "example.internal:9000"]) {
      assert.equal(formatListenAddr(parseListenAddr(s)), s);
    }
  });
});

describe("loadServerConfig", () => {
  test("defaults: embedded Postgres under the working directory, [::]:8080, info, 5 s", () => {
    const c = loadServerConfig({}, "/srv/plfm");
    assert.deepEqual(c, {
      databaseUrl: null,
      embeddedDataDir: "/srv/plfm/.plfm/pg",
      listen: { host: "::", port: 8080 },
      logLevel: "info",
      projectionWaitTimeoutMs: 5000,
      dev: false,
      operatorEmails: new Set(),
      publicUrl: null,
      ipv4Pool: [],
      secretsKeyring: null,
      scheduler: true,
    });
  });

  test("PLFM_SCHEDULER: on unless 0; anything else is reported", () => {
    assert.equal(loadServerConfig({ PLFM_SCHEDULER: "0" }, "/srv").scheduler, false);
    assert.equal(loadServerConfig({ PLFM_SCHEDULER: "1" }, "/srv").scheduler, true);
    assert.throws(() => loadServerConfig({ PLFM_SCHEDULER: "yes" }, "/srv"), /PLFM_SCHEDULER/);
  });

  test("the secrets master key: read into a keyring; unset is null; a bad one is reported", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const c = loadServerConfig({ PLFM_SECRETS_MASTER_KEY: key, PLFM_SECRETS_MASTER_KEY_ID: "k1" }, "/srv");
    assert.equal(c.secretsKeyring?.currentId, "k1");
    assert.equal(loadServerConfig({ PLFM_SECRETS_MASTER_KEY: " " }, "/srv").secretsKeyring, null);
    assert.throws(
      () => loadServerConfig({ PLFM_SECRETS_MASTER_KEY: "c2hvcnQ=" }, "/srv"),
      (err: unknown) =>
        err instanceof ConfigError &&
        /PLFM_SECRETS_MASTER_KEY/.test(err.message) &&
        !err.message.includes("c2hvcnQ="),
    );
    assert.throws(
      () => loadServerConfig({ PLFM_SECRETS_MASTER_KEY_FILE: "/nonexistent/plfm-key" }, "/srv"),
      /PLFM_SECRETS_MASTER_KEY_FILE: cannot read/,
    );
  });

  test("PLFM_PUBLIC_URL is an http(s) URL, kept without a trailing slash", () => {
    assert.equal(
      loadServerConfig({ PLFM_PUBLIC_URL: "https://plfm.example.com/" }, "/srv").publicUrl,
      "https://plfm.example.com",
    );
    assert.throws(() => loadServerConfig({ PLFM_PUBLIC_URL: "plfm.example.com" }, "/srv"), /PLFM_PUBLIC_URL/);
    assert.throws(() => loadServerConfig({ PLFM_PUBLIC_URL: "ftp://x" }, "/srv"), /PLFM_PUBLIC_URL/);
  });

  test("PLFM_IPV4_POOL takes addresses and CIDR blocks; a bad entry is reported", () => {
    const c = loadServerConfig({ PLFM_IPV4_POOL: "203.0.113.9, 198.51.100.0/30,203.0.113.8" }, "/srv");
    assert.deepEqual(c.ipv4Pool, [
      { first: 0xc6336400, last: 0xc6336403 },
      { first: 0xcb007108, last: 0xcb007109 },
    ]);
    assert.throws(() => loadServerConfig({ PLFM_IPV4_POOL: "203.0.113.1/29" }, "/srv"), /PLFM_IPV4_POOL/);
    assert.throws(() => loadServerConfig({ PLFM_IPV4_POOL: "203.0.113.256" }, "/srv"), /PLFM_IPV4_POOL/);
  });

  test("PLFM_DEV is 1 or 0; operator emails are lower-cased", () => {
    const c = loadServerConfig({ PLFM_DEV: "1", PLFM_OPERATOR_EMAILS: "Ops@Example.com, root@x.io" }, "/srv");
    assert.equal(c.dev, true);
    assert.deepEqual(c.operatorEmails, new Set(["ops@example.com", "root@x.io"]));
    assert.throws(() => loadServerConfig({ PLFM_DEV: "yes" }, "/srv"), /PLFM_DEV/);
  });

  test("reads every variable; empty ones count as unset", () => {
    const c = loadServerConfig(
      {
        DATABASE_URL: "postgresql://u:p@db:5432/plfm",
        PLFM_LISTEN_ADDR: "127.0.0.1:9000",
        PLFM_LOG_LEVEL: "DEBUG",
        PLFM_PROJECTION_WAIT_TIMEOUT_SECS: "0.5",
      },
      "/x",
    );
    assert.equal(c.databaseUrl, "postgresql://u:p@db:5432/plfm");
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 9000 });
    assert.equal(c.logLevel, "debug");
    assert.equal(c.projectionWaitTimeoutMs, 500);
    assert.equal(loadServerConfig({ DATABASE_URL: "", PLFM_LISTEN_ADDR: " " }, "/x").databaseUrl, null);
  });

  test("reports every bad variable at once", () => {
    const err = (() => {
      try {
        loadServerConfig({
          DATABASE_URL: "mysql://db/x",
          PLFM_LISTEN_ADDR: "nowhere",
          PLFM_LOG_LEVEL: "loud",
          PLFM_PROJECTION_WAIT_TIMEOUT_SECS: "0",
        });
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p) => p.split(":")[0]),
      ["DATABASE_URL", "PLFM_LISTEN_ADDR", "PLFM_LOG_LEVEL", "PLFM_PROJECTION_WAIT_TIMEOUT_SECS"],
    );
    assert.throws(() => loadServerConfig({ DATABASE_URL: "not a url" }), ConfigError);
    assert.throws(() => loadServerConfig({ PLFM_PROJECTION_WAIT_TIMEOUT_SECS: "soon" }), ConfigError);
  });

  test("redactDatabaseUrl hides the password only", () => {
    assert.equal(redactDatabaseUrl("postgres://u:s3cret@db:5432/plfm"), "postgres://u:***@db:5432/plfm");
    assert.equal(redactDatabaseUrl("postgres://u@db/plfm"), "postgres://u@db/plfm");
  });
});
