// Builds real layer blobs for the unpacker's tests: tar-stream's packer, optionally gzipped.
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import type { LayerRef } from "./unpack.ts";

export interface TestEntry {
  name: string;
  type?: tar.Header["type"];
  mode?: number;
  content?: string | Buffer;
  linkname?: string;
  mtime?: Date;
}

export async function tarBytes(entries: readonly TestEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header: Partial<tar.Header> & { name: string } = {
      name: e.name,
      type,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      mtime: e.mtime ?? new Date(1_700_000_000_000),
      size: content?.length ?? 0,
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

let counter = 0;

/** Writes a layer blob into `dir` and returns it with its true digest. */
export async function writeLayer(
  dir: string,
  entries: readonly TestEntry[],
  opts: { gzip?: boolean } = {},
): Promise<LayerRef> {
  const raw = await tarBytes(entries);
  const bytes = opts.gzip ? gzipSync(raw) : raw;
  const path = join(dir, `layer-${counter++}${opts.gzip ? ".tar.gz" : ".tar"}`);
  await writeFile(path, bytes);
  return { path, digest: sha256(bytes) };
}

export async function writeBlob(dir: string, bytes: Buffer): Promise<LayerRef> {
  const path = join(dir, `blob-${counter++}`);
  await writeFile(path, bytes);
  return { path, digest: sha256(bytes) };
}

export function sandbox(): Promise<string> {
  return mkdtemp(join(tmpdir(), "plfm-unpack-"));
}
