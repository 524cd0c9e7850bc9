// Applies OCI layers, in order, into a root filesystem directory (spec platform.md §7.6).
//
// Safety rests on one rule: nothing is ever written through a symlink. Every parent component of an
// entry is lstat'ed and must be a real directory; the final component is removed (never followed) before
// it is created, and files are opened O_CREAT|O_EXCL|O_NOFOLLOW. Symlinks in the image are kept as they
// are, whatever they point at, since they only matter once the workload runs chrooted. This relies on
// nobody else writing below rootDir while we work (the caller builds in a private tmp/ directory).
//
// Layers are streamed (file → gunzip → byte counter → tar parser); none is held in memory. All digests
// are checked before the first entry is written, so a bad blob leaves rootDir untouched.
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import {
  chmod,
  chown,
  type FileHandle,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import * as tar from "tar-stream";
import { ImageUnpackError, type UnpackLimits } from "./errors.ts";
import { parseEntryName, pathKey, splitEntryPath, withAncestors } from "./paths.ts";

export interface LayerRef {
  /** A .tar or .tar.gz file; the compression is read from its magic bytes, not its name. */
  path: string;
  /** `sha256:<hex>` of the file as stored (the compressed blob). */
  digest: string;
}

export interface UnpackStats {
  layers: number;
  /** Decompressed tar bytes read, the figure the uncompressed limit applies to. */
  tarBytes: number;
  /** Bytes of regular-file content written (before later layers deleted any). */
  fileBytes: number;
}

/** One entry as the parser hands it out: its header and a stream of its content. */
type TarEntry = tar.ExtractEvents["entry"][1];

interface Meta {
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const WRITE_NEW_NOFOLLOW =
  fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const EPOCH = new Date(0);

export async function unpackLayers(
  layers: readonly LayerRef[],
  rootDir: string,
  limits: UnpackLimits,
): Promise<UnpackStats> {
  if (layers.length > limits.maxLayers) {
    throw new ImageUnpackError(
      "image_too_large",
      "too_many_layers",
      `image has ${layers.length} layers, more than ${limits.maxLayers}`,
    );
  }
  const handles: FileHandle[] = [];
  try {
    let compressed = 0;
    for (const layer of layers) {
      const handle = await open(layer.path, "r");
      handles.push(handle);
      compressed += (await handle.stat()).size;
      if (limits.maxCompressedBytes !== undefined && compressed > limits.maxCompressedBytes) {
        throw new ImageUnpackError(
          "image_too_large",
          "compressed_size",
          `layers exceed ${limits.maxCompressedBytes} compressed bytes`,
          layer.digest,
        );
      }
      await verifyDigest(handle, layer.digest);
    }
    const root = await prepareRoot(rootDir);
    const state: UnpackState = {
      root,
      limits,
      dirMeta: new Map(),
      asRoot: process.getuid?.() === 0,
      stats: { layers: 0, tarBytes: 0, fileBytes: 0 },
    };
    for (const [i, layer] of layers.entries()) {
      await applyLayer(state, handles[i] as FileHandle, layer.digest);
      state.stats.layers++;
    }
    await applyDirMeta(state);
    return state.stats;
  } finally {
    await Promise.allSettled(handles.map((h) => h.close()));
  }
}

async function verifyDigest(handle: FileHandle, digest: string): Promise<void> {
  if (!DIGEST.test(digest)) {
    throw new ImageUnpackError(
      "image_layer_invalid",
      "unsupported_digest",
      "layer digest is not sha256:<hex>",
    );
  }
  const hash = createHash("sha256");
  for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) hash.update(chunk);
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== digest) {
    throw new ImageUnpackError(
      "image_layer_invalid",
      "digest_mismatch",
      `layer content hashes to ${actual}, expected ${digest}`,
      digest,
    );
  }
}

async function prepareRoot(rootDir: string): Promise<string> {
  await mkdir(rootDir, { recursive: true });
  const st = await lstat(rootDir);
  if (!st.isDirectory()) throw new Error(`unpack root ${rootDir} is not a directory`);
  return rootDir;
}

interface UnpackState {
  root: string;
  limits: UnpackLimits;
  /** Directory metadata applied after the last layer, so a read-only directory can still be filled. */
  dirMeta: Map<string, Meta>;
  asRoot: boolean;
  stats: UnpackStats;
}

interface LayerContext {
  state: UnpackState;
  digest: string;
  /** Paths (and their ancestors) this layer created: whiteouts only hide lower layers (OCI spec). */
  created: Set<string>;
}

async function applyLayer(state: UnpackState, handle: FileHandle, digest: string): Promise<void> {
  const magic = Buffer.alloc(4);
  const { bytesRead } = await handle.read(magic, 0, 4, 0);
  const head = magic.subarray(0, bytesRead);
  if (head.length === 4 && head.readUInt32BE(0) === 0x28b52ffd) {
    throw new ImageUnpackError(
      "image_layer_invalid",
      "unsupported_compression",
      "zstd layers are not supported",
      digest,
    );
  }
  const gzipped = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;

  // The first failure raised by the stream side (limit, timeout, bad gzip) wins over the
  // "premature close" echoes that tearing the pipeline down produces afterwards.
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const source = handle.createReadStream({ start: 0, autoClose: false });
  const counter = countingStream(state, digest, fail);
  const extract = tar.extract();
  const flow = (
    gzipped ? pipeline(source, createGunzip(), counter, extract) : pipeline(source, counter, extract)
  ).catch(fail);

  const timeoutMs = state.limits.layerTimeoutMs;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          const err = new ImageUnpackError(
            "image_pull_timeout",
            "layer_timeout",
            `layer not applied within ${timeoutMs} ms`,
            digest,
          );
          fail(err);
          source.destroy(err);
          extract.destroy(err);
        }, timeoutMs);

  const ctx: LayerContext = { state, digest, created: new Set() };
  let entryError: unknown;
  try {
    for await (const entry of extract) {
      if (failure !== undefined) throw failure;
      try {
        await applyEntry(ctx, entry);
      } catch (err) {
        // An entry cut short by the limit or the timer fails with the stream's reason, not its own.
        entryError = failure ?? err;
        throw err;
      }
      entry.resume(); // drain whatever the entry did not consume
    }
    await flow;
    if (failure !== undefined) throw failure;
  } catch (err) {
    source.destroy();
    extract.destroy();
    await flow;
    throw classify(entryError ?? failure ?? err, digest);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts decompressed bytes across all layers and stops the stream once the limit is passed. */
function countingStream(state: UnpackState, digest: string, fail: (err: unknown) => void): Transform {
  const max = state.limits.maxUncompressedBytes;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      state.stats.tarBytes += chunk.length;
      if (state.stats.tarBytes > max) {
        const err = new ImageUnpackError(
          "image_too_large",
          "uncompressed_size",
          `layers exceed ${max} uncompressed bytes`,
          digest,
        );
        fail(err);
        done(err);
        return;
      }
      done(null, chunk);
    },
  });
}

/** Our own errors and host failures (ENOSPC, EACCES: they carry a syscall) pass; the rest is a bad archive. */
function classify(err: unknown, digest: string): unknown {
  if (err instanceof ImageUnpackError) return err;
  if (err instanceof Error && "syscall" in err) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ImageUnpackError(
    "image_layer_invalid",
    "corrupt_archive",
    `layer is not a valid tar: ${message}`,
    digest,
  );
}

function invalid(ctx: LayerContext, detail: string, name: string): ImageUnpackError {
  return new ImageUnpackError(
    "image_layer_invalid",
    detail,
    `layer entry ${JSON.stringify(name)}: ${detail}`,
    ctx.digest,
  );
}

async function applyEntry(ctx: LayerContext, entry: TarEntry): Promise<void> {
  const header = entry.header;
  const name = header.name;
  const parsed = parseEntryName(name);
  switch (parsed.kind) {
    case "invalid":
      throw invalid(ctx, parsed.detail, name);
    case "ignored":
      return;
    case "whiteout":
      return whiteout(ctx, parsed.components, name);
    case "opaque":
      return opaque(ctx, parsed.components, name);
    case "path":
      break;
  }
  const components = parsed.components;
  const type = header.type ?? "file";
  if (components.length === 0) {
    // The root itself ("./"): its mode stays the caller's; anything else there is malformed.
    if (type === "directory") return;
    throw invalid(ctx, "invalid_name", name);
  }
  const meta: Meta = {
    mode: (header.mode ?? (type === "directory" ? 0o755 : 0o644)) & 0o7777,
    mtime: header.mtime ?? EPOCH,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
  };
  switch (type) {
    case "directory":
      await ensureParent(ctx, components, name);
      await directory(ctx, components, meta);
      break;
    case "file":
    case "contiguous-file":
      await ensureParent(ctx, components, name);
      await regularFile(ctx, components, meta, entry);
      break;
    case "symlink":
      await ensureParent(ctx, components, name);
      await symbolicLink(ctx, components, meta, header.linkname ?? "", name);
      break;
    case "link":
      await ensureParent(ctx, components, name);
      await hardLink(ctx, components, header.linkname ?? "", name);
      break;
    case "character-device":
    case "block-device":
      throw invalid(ctx, "device_node", name);
    case "fifo":
      throw invalid(ctx, "fifo", name);
    default:
      throw invalid(ctx, "unsupported_entry_type", name);
  }
  for (const key of withAncestors(components)) ctx.created.add(key);
}

function abs(ctx: LayerContext, components: readonly string[]): string {
  return join(ctx.state.root, ...components);
}

/**
 * Walks the parents of `components` with lstat. Each must be a real directory; a symlink there would
 * redirect the write, so it is refused. Missing parents are created when `create`; otherwise the walk answers false.
 */
async function walkParents(
  ctx: LayerContext,
  components: readonly string[],
  name: string,
  create: boolean,
): Promise<boolean> {
  for (let i = 1; i < components.length; i++) {
    const dir = components.slice(0, i);
    const path = abs(ctx, dir);
    const st = await lstatOrNull(path);
    if (st === null) {
      if (!create) return false;
      await mkdir(path, { mode: 0o755 });
      // An implied directory gets fixed metadata so the tree stays deterministic.
      const key = pathKey(dir);
      if (!ctx.state.dirMeta.has(key))
        ctx.state.dirMeta.set(key, { mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 });
      continue;
    }
    if (st.isSymbolicLink()) throw invalid(ctx, "write_through_symlink", name);
    if (!st.isDirectory()) throw invalid(ctx, "parent_not_directory", name);
  }
  return true;
}

async function ensureParent(ctx: LayerContext, components: readonly string[], name: string): Promise<void> {
  await walkParents(ctx, components, name, true);
}

/** Removes whatever is at `components` (a symlink is unlinked, never followed) and forgets its metadata. */
async function removePath(ctx: LayerContext, components: readonly string[]): Promise<void> {
  const path = abs(ctx, components);
  const st = await lstatOrNull(path);
  if (st === null) return;
  await rm(path, { recursive: true, force: true });
  const key = pathKey(components);
  ctx.state.dirMeta.delete(key);
  // Scanning is linear in the directories seen, so only a replaced directory pays for it.
  if (!st.isDirectory()) return;
  for (const k of ctx.state.dirMeta.keys()) {
    if (k.startsWith(`${key}/`)) ctx.state.dirMeta.delete(k);
  }
}

async function directory(ctx: LayerContext, components: readonly string[], meta: Meta): Promise<void> {
  const path = abs(ctx, components);
  const st = await lstatOrNull(path);
  if (st === null || !st.isDirectory()) {
    if (st !== null) await removePath(ctx, components);
    await mkdir(path, { mode: 0o755 });
  }
  ctx.state.dirMeta.set(pathKey(components), meta);
}

async function regularFile(
  ctx: LayerContext,
  components: readonly string[],
  meta: Meta,
  entry: TarEntry,
): Promise<void> {
  await removePath(ctx, components);
  const handle = await open(abs(ctx, components), WRITE_NEW_NOFOLLOW, 0o600);
  try {
    // Written chunk by chunk: node's pipeline() tears down tar-stream's (streamx) entry in a way that
    // stalls the parser before the next entry.
    for await (const chunk of entry) await writeAll(handle, chunk as Buffer);
    ctx.state.stats.fileBytes += entry.header.size ?? 0;
    // chown clears set-id bits, so it goes before chmod.
    if (ctx.state.asRoot) await handle.chown(meta.uid, meta.gid);
    await handle.chmod(meta.mode);
    await handle.utimes(meta.mtime, meta.mtime);
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await handle.write(chunk, offset)).bytesWritten;
  }
}

async function symbolicLink(
  ctx: LayerContext,
  components: readonly string[],
  meta: Meta,
  target: string,
  name: string,
): Promise<void> {
  if (target === "" || target.includes("\0")) throw invalid(ctx, "invalid_link_target", name);
  await removePath(ctx, components);
  const path = abs(ctx, components);
  await symlink(target, path);
  if (ctx.state.asRoot) await lchown(path, meta.uid, meta.gid);
  await lutimes(path, meta.mtime, meta.mtime);
}

/** A hard link may only name an entry already extracted inside the root, reached without symlinks. */
async function hardLink(ctx: LayerContext, components: readonly string[], target: string, name: string) {
  const targetComponents = splitEntryPath(target);
  if (typeof targetComponents === "string" || targetComponents.length === 0) {
    throw invalid(ctx, "hardlink_escape", name);
  }
  if (pathKey(targetComponents) === pathKey(components)) throw invalid(ctx, "hardlink_target_missing", name);
  if (!(await walkParents(ctx, targetComponents, name, false)))
    throw invalid(ctx, "hardlink_target_missing", name);
  const targetPath = abs(ctx, targetComponents);
  const st = await lstatOrNull(targetPath);
  if (st === null) throw invalid(ctx, "hardlink_target_missing", name);
  if (st.isDirectory()) throw invalid(ctx, "hardlink_to_directory", name);
  await removePath(ctx, components);
  // link(2) does not follow a symlink target on Linux, so a link to a symlink copies the symlink.
  await link(targetPath, abs(ctx, components));
}

async function whiteout(ctx: LayerContext, components: readonly string[], name: string): Promise<void> {
  // Whiteouts hide lower layers only; an entry of this very layer stays.
  if (ctx.created.has(pathKey(components))) return;
  if (!(await walkParents(ctx, components, name, false))) return;
  await removePath(ctx, components);
}

async function opaque(ctx: LayerContext, dir: readonly string[], name: string): Promise<void> {
  const marker = [...dir, ".wh..wh..opq"];
  await ensureParent(ctx, marker, name);
  await clearLower(ctx, dir);
  for (const key of withAncestors(dir)) ctx.created.add(key);
}

/** Deletes everything under `dir` that this layer did not create, keeping the directory itself. */
async function clearLower(ctx: LayerContext, dir: readonly string[]): Promise<void> {
  for (const child of await readdir(abs(ctx, dir))) {
    const components = [...dir, child];
    if (!ctx.created.has(pathKey(components))) {
      await removePath(ctx, components);
      continue;
    }
    const st = await lstat(abs(ctx, components));
    if (st.isDirectory()) await clearLower(ctx, components);
  }
}

/** Sets directory ownership, mode and time, deepest first so a parent's mtime is final. */
async function applyDirMeta(state: UnpackState): Promise<void> {
  const keys = [...state.dirMeta.keys()].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const key of keys) {
    const meta = state.dirMeta.get(key) as Meta;
    const components = key.split("/");
    // Entries are removed through removePath, which drops their metadata; re-checking the chain with
    // lstat anyway keeps chmod/utimes (which follow symlinks) from ever acting outside the root.
    if (!(await isRealDirChain(state.root, components))) continue;
    const path = join(state.root, ...components);
    if (state.asRoot) await chown(path, meta.uid, meta.gid);
    await chmod(path, meta.mode);
    await utimes(path, meta.mtime, meta.mtime);
  }
}

async function isRealDirChain(root: string, components: readonly string[]): Promise<boolean> {
  for (let i = 1; i <= components.length; i++) {
    const st = await lstatOrNull(join(root, ...components.slice(0, i)));
    if (st === null || !st.isDirectory()) return false;
  }
  return true;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
