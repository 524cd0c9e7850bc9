import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isKernelError } from "@plfm/kernel";
import { canonicalHostname, requireHostname } from "./hostname.ts";

describe("canonicalHostname", () => {
  test("lower-cases, strips one trailing dot, and converts IDNA to punycode", () => {
    assert.equal(canonicalHostname("Api.Example.COM"), "api.example.com");
    assert.equal(canonicalHostname("api.example.com."), "api.example.com");
    assert.equal(canonicalHostname("Bücher.Example"), "xn--bcher-kva.example");
    assert.equal(canonicalHostname("xn--bcher-kva.example"), "xn--bcher-kva.example");
    assert.equal(canonicalHostname("a-1.b2.example"), "a-1.b2.example");
    assert.equal(canonicalHostname(`${"a".repeat(63)}.example`), `${"a".repeat(63)}.example`);
  });

  test("refuses wildcards, single labels, IP literals, bad labels and URL-ish input", () => {
    for (const bad of [
      "",
      ".",
      "example",
      "*.example.com",
      "1.2.3.4",
      "a..example.com",
      "example.com..",
      ".example.com",
      "-a.example.com",
      "a-.example.com",
      "a_b.example.com",
      "exa mple.com",
      "a/b.example.com",
      "a%41.example.com",
      "user@example.com",
      "example.com:443",
      "[::1]",
      "xn--zz.example",
      `${"a".repeat(64)}.example`,
      `${"abcdefghi.".repeat(26)}com`,
      "tab\t.example.com",
    ]) {
      assert.equal(canonicalHostname(bad), null, JSON.stringify(bad));
    }
  });

  test("requireHostname throws invalid_hostname naming the field", () => {
    assert.throws(
      () => requireHostname("*.example.com"),
      (err) => isKernelError(err, "invalid_hostname") && err.details?.[0]?.field === "hostname",
    );
  });
});
