// Incremental TLS ClientHello reader for the SNI sniffer (spec platform.md §8.3).
//
// Pure and stateless: the sniffer appends every received byte to one buffer and calls
// parseClientHello again until the answer is not `need_more` (or its own 200 ms deadline fires).
// Re-reading from the start each time costs little because at most MAX_CLIENT_HELLO_BYTES are
// ever looked at, and it means a ClientHello split at any byte, across TCP segments or across
// TLS records, reads the same as one sent whole. Bytes after the ClientHello (TLS 1.3 early data)
// are ignored. Every length field is checked against what is left before it is used, and every
// loop advances by at least one byte, so no input can throw or spin.

/** The sniffer's byte budget: a ClientHello must be complete within this many bytes. */
export const MAX_CLIENT_HELLO_BYTES = 8192;

const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
const MAX_RECORD_FRAGMENT = 16384; // 2^14, RFC 8446 §5.1
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
const NAME_TYPE_HOST_NAME = 0;
const MAX_HOSTNAME_LENGTH = 253;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// RFC 6066 §3: host_name is ASCII. Anything else in it can never match a route hostname.
const SNI_ASCII_RE = /^[A-Za-z0-9.-]+$/;

export interface ClientHelloOk {
  kind: "ok";
  /** The canonical server name (lower-case, no trailing dot, A-labels as sent), or null. */
  sni: string | null;
  /** A host_name was sent but is not a valid DNS hostname (sni is then null). */
  sniInvalid: boolean;
  /** ALPN protocol names in the client's order, byte for byte (latin1), when the extension is present. */
  alpn?: string[];
  /** The client offered Encrypted Client Hello: its real server name is not visible to us. */
  ech: boolean;
}

export type ClientHelloResult =
  | { kind: "need_more" }
  /** Not a TLS ClientHello we can read: the sniffer closes the connection. */
  | { kind: "not_tls"; reason: string }
  /** No complete ClientHello within MAX_CLIENT_HELLO_BYTES. */
  | { kind: "too_large" }
  | ClientHelloOk;

const NEED_MORE: ClientHelloResult = Object.freeze({ kind: "need_more" });
const TOO_LARGE: ClientHelloResult = Object.freeze({ kind: "too_large" });

function notTls(reason: string): ClientHelloResult {
  return { kind: "not_tls", reason };
}

/** need_more, unless the bytes still missing cannot fit in the budget. */
function incomplete(minTotalBytes: number): ClientHelloResult {
  return minTotalBytes > MAX_CLIENT_HELLO_BYTES ? TOO_LARGE : NEED_MORE;
}

/**
 * Reads the ClientHello at the start of `input` (all bytes received so far on the connection).
 * Never throws.
 */
export function parseClientHello(input: Uint8Array): ClientHelloResult {
  const whole = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const buf = whole.length > MAX_CLIENT_HELLO_BYTES ? whole.subarray(0, MAX_CLIENT_HELLO_BYTES) : whole;

  // The record layer: gather handshake bytes from consecutive handshake records.
  const parts: Buffer[] = [];
  let have = 0; // handshake bytes gathered
  let need = -1; // 4 + ClientHello length, once the handshake header is known
  let off = 0;
  while (need < 0 || have < need) {
    const missing = need < 0 ? HANDSHAKE_HEADER_BYTES - have : need - have;
    if (off + RECORD_HEADER_BYTES > buf.length) {
      // Judge the header bytes that did arrive, so that plain text is refused at its first byte.
      const type = buf[off];
      if (type !== undefined && type !== CONTENT_TYPE_HANDSHAKE) return notTls(`record content type ${type}`);
      const major = buf[off + 1];
      if (major !== undefined && major !== 3) return notTls(`record version major ${major}`);
      const minor = buf[off + 2];
      if (minor !== undefined && minor > 4) return notTls(`record version minor ${minor}`);
      return incomplete(off + RECORD_HEADER_BYTES + Math.max(1, missing));
    }
    const type = buf[off] as number;
    if (type !== CONTENT_TYPE_HANDSHAKE) return notTls(`record content type ${type}`);
    const major = buf[off + 1] as number;
    const minor = buf[off + 2] as number;
    if (major !== 3 || minor > 4) return notTls(`record version ${major}.${minor}`);
    const length = buf.readUInt16BE(off + 3);
    // Zero-length handshake fragments are forbidden (RFC 8446 §5.1) and would let a client stall us.
    if (length === 0 || length > MAX_RECORD_FRAGMENT) return notTls(`record length ${length}`);
    const start = off + RECORD_HEADER_BYTES;
    const available = Math.min(length, buf.length - start);
    parts.push(buf.subarray(start, start + available));
    have += available;
    if (need < 0 && have >= HANDSHAKE_HEADER_BYTES) {
      const head = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, have);
      const msgType = head[0] as number;
      if (msgType !== HANDSHAKE_CLIENT_HELLO) return notTls(`handshake type ${msgType}`);
      need = HANDSHAKE_HEADER_BYTES + head.readUIntBE(1, 3);
    }
    if (need >= 0 && have >= need) break;
    if (available < length) {
      // The record is still arriving and the ClientHello is not complete yet.
      const stillMissing = need < 0 ? HANDSHAKE_HEADER_BYTES - have : need - have;
      const moreRecords = stillMissing > length - available ? RECORD_HEADER_BYTES : 0;
      return incomplete(buf.length + stillMissing + moreRecords);
    }
    off = start + length;
  }
  const handshake = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, have);
  return parseBody(handshake.subarray(HANDSHAKE_HEADER_BYTES, need));
}

/** A bounds-checked cursor: every read returns -1 / null instead of running past the end. */
class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  get left(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    if (this.left < 1) return -1;
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    if (this.left < 2) return -1;
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  take(n: number): Buffer | null {
    if (n < 0 || this.left < n) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** The ClientHello body (RFC 8446 §4.1.2; TLS 1.0–1.2 share its layout). */
function parseBody(body: Buffer): ClientHelloResult {
  const c = new Cursor(body);
  const version = c.u16();
  if (version < 0 || version >> 8 !== 3) return notTls("client_version");
  if (c.take(32) === null) return notTls("random");
  const sessionIdLength = c.u8();
  if (sessionIdLength < 0 || sessionIdLength > 32 || c.take(sessionIdLength) === null) {
    return notTls("session_id");
  }
  const suitesLength = c.u16();
  if (suitesLength < 2 || suitesLength % 2 !== 0 || c.take(suitesLength) === null) {
    return notTls("cipher_suites");
  }
  const compressionLength = c.u8();
  if (compressionLength < 1 || c.take(compressionLength) === null) return notTls("compression_methods");

  const result: ClientHelloOk = { kind: "ok", sni: null, sniInvalid: false, ech: false };
  // Extensions are optional before TLS 1.3; without them there is no SNI.
  if (c.left === 0) return result;
  const extensionsLength = c.u16();
  if (extensionsLength !== c.left) return notTls("extensions length");
  const seen = new Set<number>();
  while (c.left > 0) {
    const type = c.u16();
    const length = c.u16();
    const data = length < 0 ? null : c.take(length);
    if (type < 0 || data === null) return notTls("extension header");
    if (seen.has(type)) return notTls(`duplicate extension ${type}`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const names = parseServerName(data);
      if (names === null) return notTls("server_name");
      if (names.length === 1) {
        result.sni = canonicalSni(names[0] as Buffer);
        result.sniInvalid = result.sni === null;
      } else if (names.length > 1) {
        // RFC 6066 §3 allows one name per type; two host_names leave us no right answer.
        result.sniInvalid = true;
      }
    } else if (type === EXT_ALPN) {
      const alpn = parseAlpn(data);
      if (alpn === null) return notTls("application_layer_protocol_negotiation");
      result.alpn = alpn;
    } else if (type === EXT_ENCRYPTED_CLIENT_HELLO) {
      result.ech = true;
    }
  }
  return result;
}

/** The host_name entries of a server_name extension (RFC 6066 §3), or null when malformed. */
function parseServerName(data: Buffer): Buffer[] | null {
  const c = new Cursor(data);
  const listLength = c.u16();
  if (listLength < 1 || listLength !== c.left) return null;
  const hostNames: Buffer[] = [];
  while (c.left > 0) {
    const nameType = c.u8();
    // Every defined ServerName variant is opaque<1..2^16-1>, so unknown types are skipped the same way.
    const length = c.u16();
    const name = length < 1 ? null : c.take(length);
    if (nameType < 0 || name === null) return null;
    if (nameType === NAME_TYPE_HOST_NAME) hostNames.push(name);
  }
  return hostNames;
}

/** ALPN protocol names (RFC 7301 §3.1), or null when malformed. */
function parseAlpn(data: Buffer): string[] | null {
  const c = new Cursor(data);
  const listLength = c.u16();
  if (listLength < 2 || listLength !== c.left) return null;
  const names: string[] = [];
  while (c.left > 0) {
    const length = c.u8();
    const name = length < 1 ? null : c.take(length);
    if (name === null) return null;
    names.push(name.toString("latin1"));
  }
  return names;
}

/**
 * The canonical form of an SNI host_name, or null when it is not a valid hostname. The same rules as
 * route hostnames (control-plane networking/hostname.ts) restricted to ASCII, since SNI carries
 * A-labels already: lower-case, one trailing dot removed, at least two labels of 1–63 [a-z0-9-] not
 * starting or ending with '-', at most 253 characters, a non-numeric last label (no IPv4 literals).
 * Punycode inside xn-- labels is not decoded: a malformed A-label simply matches no route.
 */
export function canonicalSni(raw: Uint8Array): string | null {
  if (raw.length === 0 || raw.length > MAX_HOSTNAME_LENGTH + 1) return null;
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  if (!SNI_ASCII_RE.test(text)) return null;
  const lower = text.toLowerCase();
  const name = lower.endsWith(".") ? lower.slice(0, -1) : lower;
  if (name.length === 0 || name.length > MAX_HOSTNAME_LENGTH) return null;
  const labels = name.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL_RE.test(l))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return null;
  return name;
}
