// The ClientHello reader against real node:tls clients, hand-built edge cases, and fuzzing.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import fc from "fast-check";
import { type ClientHelloResult, MAX_CLIENT_HELLO_BYTES, parseClientHello } from "./client-hello.ts";
import { buildHandshake, captureClientHello, frame, handshakeOf, serverNameExt } from "./test-support.ts";

const KINDS = new Set(["need_more", "not_tls", "too_large", "ok"]);

let tls13: Buffer; // TLS 1.3 client, mixed-case SNI, ALPN
let tls12: Buffer; // TLS 1.2 client, SNI with a trailing dot
let noSni: Buffer; // connected to an IP address, no servername

before(async () => {
  tls13 = await captureClientHello({ servername: "App.Example.COM", ALPNProtocols: ["h2", "http/1.1"] });
  tls12 = await captureClientHello({ servername: "api.example.org.", maxVersion: "TLSv1.2" });
  noSni = await captureClientHello({});
});

function assertWellFormed(r: ClientHelloResult): void {
  assert.ok(KINDS.has(r.kind), `unknown kind ${r.kind}`);
  if (r.kind === "ok") {
    assert.ok(r.sni === null || /^[a-z0-9.-]+$/.test(r.sni));
    if (r.sniInvalid) assert.equal(r.sni, null);
  }
}

test("a real TLS 1.3 ClientHello gives the canonical SNI and the ALPN list", () => {
  assert.ok(tls13.includes(Buffer.from("App.Example.COM")), "node sent the name as given");
  assert.deepEqual(parseClientHello(tls13), {
    kind: "ok",
    sni: "app.example.com",
    sniInvalid: false,
    ech: false,
    alpn: ["h2", "http/1.1"],
  });
});

test("a real TLS 1.2 ClientHello with a trailing dot gives the name without it", () => {
  assert.ok(tls12.includes(Buffer.from("api.example.org.")));
  const r = parseClientHello(tls12);
  assert.equal(r.kind, "ok");
  assert.equal(r.kind === "ok" && r.sni, "api.example.org");
  assert.equal(r.kind === "ok" && r.alpn, undefined);
});

test("a client connecting to an IP address sends no SNI: sni null, not flagged invalid", () => {
  assert.deepEqual(parseClientHello(noSni), { kind: "ok", sni: null, sniInvalid: false, ech: false });
});

test("fed one byte at a time, a real ClientHello is need_more until its last byte", () => {
  for (const hello of [tls13, tls12, noSni]) {
    for (let n = 0; n < hello.length; n++) {
      assert.deepEqual(parseClientHello(hello.subarray(0, n)), { kind: "need_more" }, `prefix ${n}`);
    }
    assert.equal(parseClientHello(hello).kind, "ok");
  }
});

test("a ClientHello split across records at any byte reads the same; bytes after it are ignored", () => {
  const expected = parseClientHello(tls13);
  const hs = handshakeOf(tls13);
  // Every record one byte long: the handshake header itself spans four records.
  const oneByteRecords = frame(hs, new Array(hs.length).fill(1));
  assert.ok(oneByteRecords.length < MAX_CLIENT_HELLO_BYTES);
  assert.deepEqual(parseClientHello(oneByteRecords), expected);
  for (let n = 0; n < oneByteRecords.length; n++) {
    assert.equal(parseClientHello(oneByteRecords.subarray(0, n)).kind, "need_more", `prefix ${n}`);
  }
  // TLS 1.3 early data may follow the ClientHello in the same segment.
  const withEarlyData = Buffer.concat([tls13, Buffer.from([23, 3, 3, 0, 5, 1, 2, 3, 4, 5])]);
  assert.deepEqual(parseClientHello(withEarlyData), expected);
  assert.deepEqual(parseClientHello(Buffer.concat([tls13, Buffer.alloc(20_000, 0xaa)])), expected);
});

test("HTTP and other plain text is not_tls from its first byte", () => {
  assert.equal(parseClientHello(Buffer.from("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")).kind, "not_tls");
  assert.equal(parseClientHello(Buffer.from("G")).kind, "not_tls");
  assert.equal(parseClientHello(Buffer.from("SSH-2.0-OpenSSH_9.6\r\n")).kind, "not_tls");
  // A handshake record that holds a ServerHello (type 2) is not a ClientHello.
  const serverHello = Buffer.from(handshakeOf(tls12));
  serverHello[0] = 2;
  assert.equal(parseClientHello(frame(serverHello, [])).kind, "not_tls");
  // Zero-length handshake records would let a client stall us for free.
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).kind, "not_tls");
});

test("8 KiB of a record that never completes is too_large, and so is a declared length over the budget", () => {
  const header = Buffer.from([22, 3, 1, 0x3f, 0xff, 1, 0x00, 0x3f, 0xfb]);
  const stuck = Buffer.concat([header, Buffer.alloc(MAX_CLIENT_HELLO_BYTES - header.length, 0x41)]);
  assert.deepEqual(parseClientHello(stuck), { kind: "too_large" });
  // Known as soon as the handshake header says so.
  assert.deepEqual(parseClientHello(header), { kind: "too_large" });
  // Tiny records that would need more than 8 KiB in all: too_large once the budget is spent.
  const big = buildHandshake({
    extensions: [{ type: 21, data: Buffer.alloc(2000) }, serverNameExt(Buffer.from("a.io"))],
  });
  const slow = frame(big, new Array(big.length).fill(1));
  assert.ok(slow.length > MAX_CLIENT_HELLO_BYTES);
  assert.equal(parseClientHello(slow.subarray(0, 4000)).kind, "need_more");
  assert.deepEqual(parseClientHello(slow.subarray(0, MAX_CLIENT_HELLO_BYTES)), { kind: "too_large" });
  assert.deepEqual(parseClientHello(slow), { kind: "too_large" });
});

test("a ClientHello of exactly 8192 bytes is read; one byte more is too_large", () => {
  const sized = (total: number) => {
    // record header 5 + handshake: pad with extension 21 (padding) to hit the total exactly.
    const base = buildHandshake({
      extensions: [serverNameExt(Buffer.from("edge.example.com")), { type: 21, data: Buffer.alloc(0) }],
    });
    const pad = total - 5 - base.length;
    return frame(
      buildHandshake({
        extensions: [serverNameExt(Buffer.from("edge.example.com")), { type: 21, data: Buffer.alloc(pad) }],
      }),
      [],
    );
  };
  const exact = sized(MAX_CLIENT_HELLO_BYTES);
  assert.equal(exact.length, MAX_CLIENT_HELLO_BYTES);
  assert.equal(parseClientHello(exact).kind, "ok");
  assert.deepEqual(parseClientHello(sized(MAX_CLIENT_HELLO_BYTES + 1)), { kind: "too_large" });
});

test("server names that are not valid hostnames give sni null with the flag", () => {
  const sniOf = (...names: string[]) =>
    parseClientHello(
      frame(
        buildHandshake({ extensions: [serverNameExt(...names.map((n) => Buffer.from(n, "latin1")))] }),
        [],
      ),
    );
  for (const bad of [
    "under_score.example.com",
    "10.0.0.1",
    "localhost",
    "-a.example.com",
    "a..b.com",
    ".",
    "é.com",
    "a b.com",
  ]) {
    assert.deepEqual(sniOf(bad), { kind: "ok", sni: null, sniInvalid: true, ech: false }, bad);
  }
  assert.deepEqual(sniOf(`${"a".repeat(64)}.com`), { kind: "ok", sni: null, sniInvalid: true, ech: false });
  // Two host_names: no right answer.
  assert.deepEqual(sniOf("a.example.com", "b.example.com"), {
    kind: "ok",
    sni: null,
    sniInvalid: true,
    ech: false,
  });
  // A-labels are kept as sent (lower-cased).
  assert.equal((sniOf("XN--BCHER-KVA.example") as { sni: string }).sni, "xn--bcher-kva.example");
  // The longest valid name: 253 characters, plus the optional trailing dot.
  const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
  assert.equal(longest.length, 253);
  assert.equal((sniOf(`${longest}.`) as { sni: string }).sni, longest);
});

test("Encrypted Client Hello is reported; duplicate or malformed extensions are not_tls", () => {
  const ech = parseClientHello(
    frame(
      buildHandshake({
        extensions: [
          serverNameExt(Buffer.from("public.example.com")),
          { type: 0xfe0d, data: Buffer.alloc(8) },
        ],
      }),
      [],
    ),
  );
  assert.deepEqual(ech, { kind: "ok", sni: "public.example.com", sniInvalid: false, ech: true });
  const dup = buildHandshake({
    extensions: [serverNameExt(Buffer.from("a.io")), serverNameExt(Buffer.from("b.io"))],
  });
  assert.equal(parseClientHello(frame(dup, [])).kind, "not_tls");
  const badSni = buildHandshake({ extensions: [{ type: 0, data: Buffer.from([0, 9, 0, 0, 3, 0x61]) }] });
  assert.equal(parseClientHello(frame(badSni, [])).kind, "not_tls");
  const badAlpn = buildHandshake({ extensions: [{ type: 16, data: Buffer.from([0, 3, 0, 0x61, 0x62]) }] });
  assert.equal(parseClientHello(frame(badAlpn, [])).kind, "not_tls");
});

test("property: any framing of a real ClientHello into records reads the same", () => {
  const hellos = [tls13, tls12, noSni];
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2),
      fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 40 }),
      (i, sizes) => {
        const hello = hellos[i] as Buffer;
        const framed = frame(handshakeOf(hello), sizes);
        assert.deepEqual(parseClientHello(framed), parseClientHello(hello));
      },
    ),
  );
});

test("property: every strict prefix of a valid ClientHello is need_more", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2),
      fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 10 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      (i, sizes, at) => {
        const framed = frame(handshakeOf([tls13, tls12, noSni][i] as Buffer), sizes);
        const n = Math.floor(at * framed.length);
        assert.deepEqual(parseClientHello(framed.subarray(0, n)), { kind: "need_more" });
      },
    ),
  );
});

test("property: random bytes never throw and give one of the kinds", () => {
  const tlsish = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 600 }))
    .map(([len, rest]) => {
      const b = Buffer.alloc(5 + rest.length);
      b[0] = 22;
      b[1] = 3;
      b[2] = 1;
      b.writeUInt16BE(len, 3);
      Buffer.from(rest).copy(b, 5);
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 10_000 }), tlsish), (bytes) => {
      assertWellFormed(parseClientHello(bytes));
    }),
    { numRuns: 500 },
  );
});

test("property: mutated real ClientHellos never throw and give one of the kinds", () => {
  const mutation = fc.oneof(
    fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant("cut" as const), at: fc.nat(), value: fc.nat(64) }),
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2),
      fc.boolean(),
      fc.array(mutation, { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 6 }),
      (i, inHandshake, mutations, sizes) => {
        const hello = [tls13, tls12, noSni][i] as Buffer;
        // Mutating inside the handshake and re-framing reaches the body parser past the record checks.
        let b = Buffer.from(inHandshake ? handshakeOf(hello) : hello);
        for (const m of mutations) {
          const at = b.length === 0 ? 0 : m.at % b.length;
          if (m.op === "set" && b.length > 0) b[at] = m.value;
          else if (m.op === "cut") b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.value)]);
          else b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
        }
        const input = inHandshake && b.length > 0 ? frame(b, sizes) : b;
        assertWellFormed(parseClientHello(input));
      },
    ),
    { numRuns: 1000 },
  );
});
