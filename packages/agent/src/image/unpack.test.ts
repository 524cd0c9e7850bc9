import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ImageUnpackError, SPEC_IMAGE_LIMITS, type UnpackLimits } from "./errors.ts";
import { sandbox, type TestEntry, writeBlob, writeLayer } from "./test-support.ts";
import { type LayerRef, unpackLayers } from "./unpack.ts";

const limits: UnpackLimits = { maxLayers: 128, maxUncompressedBytes: 64 * 1024 * 1024 };

let box: string;
let blobs: string;
before(async () => {
  box = await sandbox();
  blobs = join(box, "blobs");
  await mkdir(blobs);
});
after(async () => {
  await rm(box, { recursive: true, force: true });
});

/** A fresh root at some depth below its own sandbox, with an `outside` directory holding a sentinel. */
async function fixture(name: string) {
  const base = join(box, name);
  const root = join(base, "x", "y", "root");
  const outside = join(base, "outside");
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, "sentinel"), "untouched");
  return { base, root, outside };
}

async function rejects(
  p: Promise<unknown>,
  code: ImageUnpackError["code"],
  detail: string,
): Promise<ImageUnpackError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ImageUnpackError, `expected ImageUnpackError, got ${String(err)}`);
    assert.equal(err.reason, "image_pull_failed");
    assert.equal(err.code, code);
    assert.equal(err.detail, detail);
    return err;
  }
  assert.fail(`expected ${code}/${detail}`);
}

async function assertOutsideUntouched(outside: string) {
  assert.deepEqual(await readdir(outside), ["sentinel"]);
  assert.equal(await readFile(join(outside, "sentinel"), "utf8"), "untouched");
}

const modeOf = async (p: string) => (await lstat(p)).mode & 0o7777;

describe("unpackLayers", () => {
  test("files, directories, modes, symlinks and hard links of a gzipped layer", async () => {
    const { root } = await fixture("basic");
    const mtime = new Date(1_600_000_000_000);
    const layer = await writeLayer(
      blobs,
      [
        { name: "./", type: "directory" },
        { name: "etc/", type: "directory", mode: 0o750 },
        { name: "etc/hosts", content: "127.0.0.1 localhost\n", mode: 0o640, mtime },
        { name: "bin/run", content: "#!/bin/sh\n", mode: 0o4755 },
        { name: "bin/run2", type: "link", linkname: "bin/run" },
        { name: "etc/localtime", type: "symlink", linkname: "/usr/share/zoneinfo/UTC" },
        { name: "ro/", type: "directory", mode: 0o555 },
        { name: "ro/inside", content: "x" },
      ],
      { gzip: true },
    );
    const stats = await unpackLayers([layer], root, limits);
    assert.equal(stats.layers, 1);
    assert.equal(stats.fileBytes, 20 + 10 + 1);

    assert.equal(await readFile(join(root, "etc/hosts"), "utf8"), "127.0.0.1 localhost\n");
    assert.equal(await modeOf(join(root, "etc/hosts")), 0o640);
    assert.equal((await stat(join(root, "etc/hosts"))).mtime.getTime(), mtime.getTime());
    assert.equal(await modeOf(join(root, "etc")), 0o750);
    assert.equal(await modeOf(join(root, "bin/run")), 0o4755, "set-id bits survive the chown");
    assert.equal(await modeOf(join(root, "bin")), 0o755, "implied directories get 0755");
    assert.equal((await stat(join(root, "bin/run2"))).ino, (await stat(join(root, "bin/run"))).ino);
    assert.equal(await readlink(join(root, "etc/localtime")), "/usr/share/zoneinfo/UTC");
    assert.equal(await modeOf(join(root, "ro")), 0o555, "directory modes are applied after their contents");
    assert.equal(await readFile(join(root, "ro/inside"), "utf8"), "x");
  });

  test("a later layer's whiteout deletes a file and an opaque directory drops lower contents", async () => {
    const { root, outside } = await fixture("whiteout");
    const lower = await writeLayer(blobs, [
      { name: "a/keep", content: "keep" },
      { name: "a/gone", content: "gone" },
      { name: "d/old", content: "old" },
      { name: "d/sub/older", content: "older" },
      // A directory that holds a symlink out of the root; deleting it must not follow the link.
      { name: "w/out", type: "symlink", linkname: outside },
      { name: "w/outfile", type: "symlink", linkname: join(outside, "sentinel") },
      { name: "m/", type: "directory", mode: 0o700 },
    ]);
    const upper = await writeLayer(
      blobs,
      [
        { name: "a/.wh.gone" },
        // Same-layer entry before the opaque marker: the marker hides only lower layers.
        { name: "d/new", content: "new" },
        { name: "d/sub/kept", content: "kept" },
        { name: "d/.wh..wh..opq" },
        { name: "d/sub2/newer", content: "newer" },
        { name: ".wh.w" },
        { name: "a/.wh.never-existed" },
        // A whited-out directory recreated implicitly must not inherit the old entry's mode.
        { name: ".wh.m" },
        { name: "m/x", content: "x" },
      ],
      { gzip: true },
    );
    await unpackLayers([lower, upper], root, limits);
    assert.deepEqual((await readdir(join(root, "a"))).sort(), ["keep"]);
    assert.deepEqual((await readdir(join(root, "d"))).sort(), ["new", "sub", "sub2"]);
    assert.deepEqual(await readdir(join(root, "d/sub")), ["kept"], "lower d/sub/older is hidden");
    assert.equal(await modeOf(join(root, "m")), 0o755);
    assert.equal(await readFile(join(root, "d/sub2/newer"), "utf8"), "newer");
    assert.equal(existsSync(join(root, "w")), false);
    assert.equal(existsSync(join(root, "a/.wh.gone")), false, "whiteout markers are not extracted");
    await assertOutsideUntouched(outside);
  });

  test("a file replacing a lower symlink is written at the link, not through it", async () => {
    const { root, outside } = await fixture("replace");
    const lower = await writeLayer(blobs, [
      { name: "f", type: "symlink", linkname: join(outside, "target") },
      { name: "g", type: "symlink", linkname: "../../../outside/sentinel" },
      { name: "dir", content: "was a file" },
    ]);
    const upper = await writeLayer(blobs, [
      { name: "f", content: "mine" },
      { name: "g", content: "mine too" },
      { name: "dir/", type: "directory" },
      { name: "dir/x", content: "x" },
    ]);
    await unpackLayers([lower, upper], root, limits);
    assert.ok((await lstat(join(root, "f"))).isFile());
    assert.equal(await readFile(join(root, "f"), "utf8"), "mine");
    assert.equal(await readFile(join(root, "g"), "utf8"), "mine too");
    assert.equal(await readFile(join(root, "dir/x"), "utf8"), "x");
    await assertOutsideUntouched(outside);
  });

  test("`..` components are rejected and nothing lands outside the root", async () => {
    const { base, root, outside } = await fixture("traversal");
    const layer = await writeLayer(blobs, [
      { name: "ok", content: "fine" },
      { name: "../../etc/passwd", content: "root::0:0::/:/bin/sh\n" },
    ]);
    await rejects(unpackLayers([layer], root, limits), "image_layer_invalid", "path_traversal");
    assert.equal(existsSync(join(base, "x", "etc")), false);
    await assertOutsideUntouched(outside);
    for (const name of ["a/../b", "..", "./../x"]) {
      const l = await writeLayer(blobs, [{ name, content: "x" }]);
      await rejects(unpackLayers([l], root, limits), "image_layer_invalid", "path_traversal");
    }
  });

  test("an absolute entry name lands inside the root", async () => {
    const { root } = await fixture("absolute");
    const layer = await writeLayer(blobs, [{ name: "/abs", content: "here" }]);
    await unpackLayers([layer], root, limits);
    assert.equal(await readFile(join(root, "abs"), "utf8"), "here");
  });

  test("entries written through a symlink are rejected, wherever it points", async () => {
    const { root, outside } = await fixture("symlink");
    assert.equal(existsSync("/escape"), false, "precondition: /escape must not exist on this host");
    const toSlash = await writeLayer(blobs, [
      { name: "link", type: "symlink", linkname: "/" },
      { name: "link/escape", content: "pwned" },
    ]);
    await rejects(unpackLayers([toSlash], root, limits), "image_layer_invalid", "write_through_symlink");
    assert.equal(existsSync("/escape"), false);
    assert.equal(await readlink(join(root, "link")), "/", "the symlink itself is kept");

    // Across layers, and relative, and as a directory entry or a parent of one.
    const lower = await writeLayer(blobs, [{ name: "up", type: "symlink", linkname: "../../../outside" }]);
    for (const [i, entry] of [
      { name: "up/escape", content: "pwned" },
      { name: "up/newdir/", type: "directory" as const },
      { name: "up/deep/escape", content: "pwned" },
      { name: "up/.wh.sentinel" },
      { name: "up/.wh..wh..opq" },
    ].entries()) {
      const upper = await writeLayer(blobs, [entry]);
      await rejects(
        unpackLayers([lower, upper], join(root, "..", `r-${i}`), limits),
        "image_layer_invalid",
        "write_through_symlink",
      );
      await assertOutsideUntouched(outside);
    }
  });

  test("device nodes and fifos are rejected", async () => {
    const { root } = await fixture("devices");
    for (const [type, detail] of [
      ["character-device", "device_node"],
      ["block-device", "device_node"],
      ["fifo", "fifo"],
    ] as const) {
      const layer = await writeLayer(blobs, [{ name: `dev/${type}`, type }]);
      await rejects(unpackLayers([layer], root, limits), "image_layer_invalid", detail);
      assert.equal(existsSync(join(root, "dev", type)), false);
    }
  });

  test("hard links must name an already extracted entry inside the root", async () => {
    const { root, outside } = await fixture("hardlink");
    const cases: [TestEntry[], string][] = [
      [[{ name: "h", type: "link", linkname: "../../../outside/sentinel" }], "hardlink_escape"],
      [[{ name: "h", type: "link", linkname: join(outside, "sentinel") }], "hardlink_target_missing"],
      [
        [
          { name: "h", type: "link", linkname: "later" },
          { name: "later", content: "x" },
        ],
        "hardlink_target_missing",
      ],
      [
        [
          { name: "out", type: "symlink", linkname: outside },
          { name: "h", type: "link", linkname: "out/sentinel" },
        ],
        "write_through_symlink",
      ],
      [
        [
          { name: "dir/", type: "directory" },
          { name: "h", type: "link", linkname: "dir" },
        ],
        "hardlink_to_directory",
      ],
    ];
    for (const [entries, detail] of cases) {
      const layer = await writeLayer(blobs, entries);
      await rejects(unpackLayers([layer], root, limits), "image_layer_invalid", detail);
      assert.equal(existsSync(join(root, "h")), false);
    }
    await assertOutsideUntouched(outside);
  });

  test("a digest mismatch is rejected before anything is written", async () => {
    const { root } = await fixture("digest");
    const good = await writeLayer(blobs, [{ name: "first", content: "1" }]);
    const bad = await writeLayer(blobs, [{ name: "second", content: "2" }], { gzip: true });
    await writeFile(bad.path, gzipSync(Buffer.from("tampered")));
    const err = await rejects(
      unpackLayers([good, bad], root, limits),
      "image_layer_invalid",
      "digest_mismatch",
    );
    assert.equal(err.layer, bad.digest);
    assert.equal(existsSync(root), false, "no layer applied, not even the good first one");
    await rejects(
      unpackLayers([{ path: good.path, digest: "md5:abc" }], root, limits),
      "image_layer_invalid",
      "unsupported_digest",
    );
  });

  test("the uncompressed size limit stops a layer, including a gzip bomb", async () => {
    const { root } = await fixture("size");
    const small = { ...limits, maxUncompressedBytes: 32 * 1024 };
    const plain = await writeLayer(blobs, [{ name: "big", content: Buffer.alloc(64 * 1024, 1) }]);
    await rejects(unpackLayers([plain], root, small), "image_too_large", "uncompressed_size");
    const bomb = await writeLayer(blobs, [{ name: "zeros", content: Buffer.alloc(8 * 1024 * 1024) }], {
      gzip: true,
    });
    assert.ok(
      (await stat(bomb.path)).size < 32 * 1024,
      "precondition: the compressed blob is under the limit",
    );
    await rejects(unpackLayers([bomb], root, small), "image_too_large", "uncompressed_size");
    // The limit is over all layers together: two layers that fit alone do not fit as one image.
    const half = await writeLayer(blobs, [{ name: "half", content: Buffer.alloc(16 * 1024, 1) }]);
    await unpackLayers([half], join(root, "..", "one"), small);
    await rejects(
      unpackLayers([half, half], join(root, "..", "two"), small),
      "image_too_large",
      "uncompressed_size",
    );
  });

  test("layer count and compressed size limits", async () => {
    const { root } = await fixture("counts");
    const layer = await writeLayer(blobs, [{ name: "f", content: "x" }]);
    await rejects(
      unpackLayers([layer, layer, layer], root, { ...limits, maxLayers: 2 }),
      "image_too_large",
      "too_many_layers",
    );
    const tooMany: LayerRef[] = Array.from({ length: SPEC_IMAGE_LIMITS.maxLayers + 1 }, () => layer);
    await rejects(unpackLayers(tooMany, root, SPEC_IMAGE_LIMITS), "image_too_large", "too_many_layers");
    await rejects(
      unpackLayers([layer, layer], root, { ...limits, maxCompressedBytes: 2048 }),
      "image_too_large",
      "compressed_size",
    );
    assert.equal(existsSync(root), false);
  });

  test("a corrupt or unsupported blob is image_layer_invalid", async () => {
    const { root } = await fixture("corrupt");
    const truncated = await writeLayer(blobs, [{ name: "f", content: Buffer.alloc(4096, 7) }], {
      gzip: true,
    });
    const bytes = await readFile(truncated.path);
    await rejects(
      unpackLayers([await writeBlob(blobs, bytes.subarray(0, bytes.length - 20))], root, limits),
      "image_layer_invalid",
      "corrupt_archive",
    );
    await rejects(
      unpackLayers(
        [await writeBlob(blobs, Buffer.from("this is not a tar archive at all".repeat(20)))],
        root,
        limits,
      ),
      "image_layer_invalid",
      "corrupt_archive",
    );
    await rejects(
      unpackLayers([await writeBlob(blobs, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]))], root, limits),
      "image_layer_invalid",
      "unsupported_compression",
    );
  });

  test("a layer that outlives its time budget fails with image_pull_timeout", async () => {
    const { root } = await fixture("timeout");
    const entries = Array.from({ length: 400 }, (_, i) => ({ name: `d${i % 20}/f${i}`, content: "x" }));
    const layer = await writeLayer(blobs, entries);
    await rejects(
      unpackLayers([layer], root, { ...limits, layerTimeoutMs: 1 }),
      "image_pull_timeout",
      "layer_timeout",
    );
  });
});
