// PROXY v2: the exact bytes of spec §8.5 (compliance 56), round trips, and a decoder that never throws.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, isIPv4, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import {
  decodeProxyV2,
  encodeProxyV2,
  encodeProxyV2Local,
  formatIp,
  PROXY_V2_SIGNATURE,
  ProxyV2EncodeError,
} from "./v2.ts";

const SIGNATURE_HEX = "0d0a0d0a000d0a515549540a";

test("IPv4: 28 bytes, signature, 0x21, 0x11, length 12, addresses then ports", () => {
  const h = encodeProxyV2({
    src: { address: "192.0.2.10", port: 51234 },
    dst: { address: "198.51.100.7", port: 443 },
  });
  assert.equal(h.length, 28);
  assert.equal(
    h.toString("hex"),
    [SIGNATURE_HEX, "21", "11", "000c", "c000020a", "c6336407", "c822", "01bb"].join(""),
  );
});

test("IPv6: 52 bytes, signature, 0x21, 0x21, length 36, addresses then ports", () => {
  const h = encodeProxyV2({
    src: { address: "2001:db8::1", port: 40000 },
    dst: { address: "fd70:6c66::5", port: 8443 },
  });
  assert.equal(h.length, 52);
  assert.equal(
    h.toString("hex"),
    [
      SIGNATURE_HEX,
      "21", // version 2, PROXY
      "21", // TCP over IPv6
      "0024", // 36 address bytes
      "20010db8000000000000000000000001",
      "fd706c66000000000000000000000005",
      "9c40", // 40000
      "20fb", // 8443
    ].join(""),
  );
});

test("an IPv4-mapped client with an IPv4 destination is encoded as IPv4; a mixed pair as IPv6", () => {
  const mapped = encodeProxyV2({
    src: { address: "::ffff:192.0.2.10", port: 1 },
    dst: { address: "198.51.100.7", port: 2 },
  });
  assert.deepEqual(
    mapped,
    encodeProxyV2({ src: { address: "192.0.2.10", port: 1 }, dst: { address: "198.51.100.7", port: 2 } }),
  );
  assert.equal(mapped[13], 0x11);
  const mixed = encodeProxyV2({
    src: { address: "2001:db8::1", port: 1 },
    dst: { address: "198.51.100.7", port: 2 },
  });
  assert.equal(mixed.length, 52);
  assert.equal(mixed.subarray(32, 48).toString("hex"), "00000000000000000000ffffc6336407");
  const decoded = decodeProxyV2(mixed);
  assert.equal(decoded.kind === "ok" && decoded.dst?.address, "::ffff:198.51.100.7");
});

test("headers from real sockets' addresses, IPv4 and IPv6", async () => {
  for (const host of ["127.0.0.1", "::1"]) {
    const server = createServer();
    server.listen(0, host);
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, host);
    const [socket] = await accepted;
    const h = encodeProxyV2({
      src: { address: socket.remoteAddress as string, port: socket.remotePort as number },
      dst: { address: socket.localAddress as string, port: socket.localPort as number },
    });
    assert.equal(h.length, isIPv4(host) ? 28 : 52);
    const d = decodeProxyV2(h);
    assert.equal(d.kind, "ok");
    assert.deepEqual(d.kind === "ok" && d.src, { address: host, port: client.localPort });
    socket.destroy();
    client.destroy();
    server.close();
  }
});

test("encode refuses what is not an IP address or a port, with its own error type", () => {
  const dst = { address: "192.0.2.1", port: 443 };
  for (const address of ["example.com", "", "1.2.3", "fe80::1%eth0", "::ffff:1.2.3.4.5"]) {
    assert.throws(() => encodeProxyV2({ src: { address, port: 1 }, dst }), ProxyV2EncodeError, address);
  }
  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    assert.throws(() => encodeProxyV2({ src: { address: "192.0.2.2", port }, dst }), ProxyV2EncodeError);
  }
});

test("decode: LOCAL, TLVs skipped, need_more on every prefix, invalid signature and version", () => {
  assert.deepEqual(decodeProxyV2(encodeProxyV2Local()), {
    kind: "ok",
    headerLength: 16,
    command: "local",
    family: "unspec",
  });
  const h = encodeProxyV2({
    src: { address: "192.0.2.10", port: 5 },
    dst: { address: "198.51.100.7", port: 6 },
  });
  // Append a 7-byte TLV (type 0x04 NOOP) and grow the length to match.
  const tlv = Buffer.from([0x04, 0x00, 0x04, 1, 2, 3, 4]);
  const withTlv = Buffer.concat([h, tlv, Buffer.from("client bytes")]);
  withTlv.writeUInt16BE(12 + tlv.length, 14);
  const d = decodeProxyV2(withTlv);
  assert.equal(d.kind === "ok" && d.headerLength, 28 + tlv.length);
  assert.deepEqual(d.kind === "ok" && d.src, { address: "192.0.2.10", port: 5 });
  for (let n = 0; n < 28 + tlv.length; n++) {
    assert.deepEqual(decodeProxyV2(withTlv.subarray(0, n)), { kind: "need_more" }, `prefix ${n}`);
  }
  assert.equal(decodeProxyV2(Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")).kind, "invalid");
  const v1 = Buffer.from(h);
  v1[12] = 0x11;
  assert.deepEqual(decodeProxyV2(v1), { kind: "invalid", reason: "version" });
  const short = Buffer.from(h);
  short.writeUInt16BE(8, 14);
  assert.deepEqual(decodeProxyV2(short), { kind: "invalid", reason: "length" });
});

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
/** Node's URL parser as an independent judge of IPv6 equality. */
const canonicalV6 = (a: string) => new URL(`http://[${a}]`).hostname;
const mappedV4 = (a: string): string | null => {
  if (isIPv4(a)) return a;
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(canonicalV6(a));
  if (!m) return null;
  const hi = Number.parseInt(m[1] as string, 16);
  const lo = Number.parseInt(m[2] as string, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
};

test("property: encode → decode gives back the addresses and ports, in the family the rule picks", () => {
  const endpoint = fc.record({ address: fc.oneof(ipv4, ipv6), port: fc.integer({ min: 0, max: 65535 }) });
  fc.assert(
    fc.property(endpoint, endpoint, (src, dst) => {
      const h = encodeProxyV2({ src, dst });
      const d = decodeProxyV2(h);
      assert.equal(d.kind, "ok");
      if (d.kind !== "ok" || !d.src || !d.dst) return;
      assert.equal(d.headerLength, h.length);
      assert.equal(d.command, "proxy");
      assert.deepEqual(h.subarray(0, 12), PROXY_V2_SIGNATURE);
      const src4 = mappedV4(src.address);
      const dst4 = mappedV4(dst.address);
      if (src4 !== null && dst4 !== null) {
        assert.equal(h.length, 28);
        assert.equal(d.family, "tcp4");
        assert.equal(d.src.address, src4);
        assert.equal(d.dst.address, dst4);
      } else {
        assert.equal(h.length, 52);
        assert.equal(d.family, "tcp6");
        const asV6 = (a: string) => canonicalV6(isIPv4(a) ? `::ffff:${a}` : a);
        assert.equal(canonicalV6(d.src.address), asV6(src.address));
        assert.equal(canonicalV6(d.dst.address), asV6(dst.address));
      }
      assert.equal(d.src.port, src.port);
      assert.equal(d.dst.port, dst.port);
      // The decoded text encodes to the same bytes.
      assert.deepEqual(encodeProxyV2({ src: d.src, dst: d.dst }), h);
    }),
    { numRuns: 500 },
  );
});

test("property: formatIp is RFC 5952 text that Node's URL parser leaves alone", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = formatIp(bytes);
      if (text.startsWith("::ffff:") && text.includes(".")) return;
      assert.equal(`[${text}]`, canonicalV6(text));
    }),
  );
});

test("property: decode never throws on random bytes or mutated headers", () => {
  const header = fc
    .tuple(fc.constantFrom(encodeProxyV2Local(), Buffer.alloc(0)), fc.uint8Array({ maxLength: 80 }))
    .map(([h, rest]) => Buffer.concat([PROXY_V2_SIGNATURE, h.subarray(12), Buffer.from(rest)]));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), header), (bytes) => {
      const d = decodeProxyV2(bytes);
      assert.ok(["need_more", "invalid", "ok"].includes(d.kind));
      if (d.kind === "ok") assert.ok(d.headerLength >= 16 && d.headerLength <= bytes.length);
    }),
    { numRuns: 1000 },
  );
});

test("property: encode on arbitrary strings either encodes or throws ProxyV2EncodeError", () => {
  fc.assert(
    fc.property(fc.string(), fc.integer(), (address, port) => {
      try {
        const h = encodeProxyV2({ src: { address, port }, dst: { address: "::1", port: 1 } });
        assert.equal(h.length, 52);
      } catch (e) {
        assert.ok(e instanceof ProxyV2EncodeError, String(e));
      }
    }),
  );
});
