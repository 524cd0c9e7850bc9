// Test helpers: real ClientHellos from node:tls, and re-framing of a hello into other TLS records.
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { type ConnectionOptions, connect } from "node:tls";

/**
 * The first TLS record a real node:tls client sends (its ClientHello), captured by a plain TCP server.
 * The record is framed here by its own header, not by the parser under test.
 */
export async function captureClientHello(options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const captured = new Promise<Buffer>((resolve, reject) => {
    server.once("connection", (socket: Socket) => {
      let buf = Buffer.alloc(0);
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          socket.destroy();
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
        }
      });
    });
  });
  const client = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...options });
  client.on("error", () => {}); // the server hangs up mid-handshake on purpose
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
  }
}

/** The handshake bytes of a single-record ClientHello (without its record header). */
export function handshakeOf(record: Buffer): Buffer {
  return record.subarray(5, 5 + record.readUInt16BE(3));
}

/** Handshake bytes framed into TLS handshake records of the given fragment sizes (the last takes the rest). */
export function frame(handshake: Buffer, sizes: number[], version = 0x0301): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < handshake.length; i++) {
    const size = Math.max(1, Math.min(sizes[i] ?? handshake.length, handshake.length - off, 16384));
    const header = Buffer.alloc(5);
    header[0] = 22;
    header.writeUInt16BE(version, 1);
    header.writeUInt16BE(size, 3);
    out.push(header, handshake.subarray(off, off + size));
    off += size;
  }
  return Buffer.concat(out);
}

export interface HelloParts {
  extensions: Array<{ type: number; data: Buffer }>;
}

/** A minimal TLS 1.2-style ClientHello handshake message carrying the given extensions. */
export function buildHandshake({ extensions }: HelloParts): Buffer {
  const exts = Buffer.concat(
    extensions.map(({ type, data }) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(type, 0);
      h.writeUInt16BE(data.length, 2);
      return Buffer.concat([h, data]);
    }),
  );
  const extLen = Buffer.alloc(2);
  extLen.writeUInt16BE(exts.length, 0);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // empty session id
    Buffer.from([0x00, 0x02, 0x13, 0x01]), // one cipher suite
    Buffer.from([0x01, 0x00]), // null compression
    extLen,
    exts,
  ]);
  const head = Buffer.alloc(4);
  head[0] = 1;
  head.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([head, body]);
}

/** A server_name extension body with the given host_name entries. */
export function serverNameExt(...names: Buffer[]): { type: number; data: Buffer } {
  const entries = Buffer.concat(
    names.map((n) => {
      const h = Buffer.alloc(3);
      h.writeUInt16BE(n.length, 1);
      return Buffer.concat([h, n]);
    }),
  );
  const len = Buffer.alloc(2);
  len.writeUInt16BE(entries.length, 0);
  return { type: 0, data: Buffer.concat([len, entries]) };
}
