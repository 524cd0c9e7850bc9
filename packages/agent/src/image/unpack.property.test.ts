import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { ImageUnpackError } from "./errors.ts";
import { parseEntryName } from "./paths.ts";
import { sandbox, type TestEntry, writeLayer } from "./test-support.ts";
import { unpackLayers } from "./unpack.ts";

let box: string;
before(async () => {
  box = await sandbox();
});
after(async () => {
  await rm(box, { recursive: true, force: true });
});

// Few names, so that generated entries collide with each other's paths and symlinks often.
// Mostly plain names, so that chains like `link -> ..` then `link/a` come up in most runs.
const component = fc.oneof(
  { arbitrary: fc.constantFrom("a", "b", "link"), weight: 10 },
  { arbitrary: fc.constantFrom("..", ".", "", ".wh.a", ".wh.link", ".wh..wh..opq"), weight: 2 },
);
const entryName = fc
  .tuple(fc.boolean(), fc.array(component, { minLength: 1, maxLength: 3 }))
  .map(([absolute, parts]) => `${absolute ? "/" : ""}${parts.join("/")}`);

/** Host paths a escaping `link -> /` entry would hit; they must not exist before or after. */
const hostProbes = ["/a", "/b", "/link"];

function entry(outside: string) {
  const linkTarget = fc.constantFrom(
    "/",
    "..",
    "../..",
    "../../..",
    "../outside",
    outside,
    "a",
    "link",
    "/a",
  );
  return fc.oneof(
    fc.record({ name: entryName, content: fc.constantFrom("x", "yy") }),
    fc.record({ name: entryName, type: fc.constant("directory" as const) }),
    fc.record({ name: entryName, type: fc.constant("symlink" as const), linkname: linkTarget }),
    fc.record({ name: fc.constant("link"), type: fc.constant("symlink" as const), linkname: linkTarget }),
    fc.record({ name: entryName, type: fc.constant("link" as const), linkname: entryName }),
  );
}

test("random entry names never write outside the root", async () => {
  for (const p of hostProbes) assert.equal(existsSync(p), false, `precondition: ${p} must not exist`);
  let run = 0;
  let rejected = 0;
  const base = join(box, "prop");
  const outside = join(base, "outside");
  const blobs = join(box, "blobs");
  await mkdir(blobs, { recursive: true });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(entry(outside), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
      async (layers: TestEntry[][]) => {
        await rm(base, { recursive: true, force: true });
        await mkdir(outside, { recursive: true });
        await writeFile(join(outside, "sentinel"), "untouched");
        // root's `../..` is `base` and `../../..` is `box`: every relative escape lands where we look.
        const root = join(base, `r${run++}`, "root");
        const refs = [];
        for (const [i, entries] of layers.entries())
          refs.push(await writeLayer(blobs, entries, { gzip: i % 2 === 1 }));
        try {
          await unpackLayers(refs, root, { maxLayers: 8, maxUncompressedBytes: 1024 * 1024 });
        } catch (err) {
          if (!(err instanceof ImageUnpackError && err.code === "image_layer_invalid")) throw err;
          rejected++;
        }
        assert.deepEqual((await readdir(box)).sort(), ["blobs", "prop"]);
        assert.deepEqual((await readdir(base)).sort(), ["outside", `r${run - 1}`].sort());
        assert.deepEqual(await readdir(join(base, `r${run - 1}`)), ["root"]);
        assert.deepEqual(await readdir(outside), ["sentinel"]);
        assert.equal(await readFile(join(outside, "sentinel"), "utf8"), "untouched");
        for (const p of hostProbes) assert.equal(existsSync(p), false, `${p} was written`);
        await Promise.all(refs.map((r) => rm(r.path)));
      },
    ),
    { numRuns: 60 },
  );
  // The property is only interesting if some runs were accepted and some refused.
  assert.ok(rejected > 0 && rejected < run, `rejected ${rejected} of ${run}`);
});

test("parsed entry names never contain `..` and stay relative", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom("a", ".", "/", "\0", "w", "h") }), (name) => {
      const parsed = parseEntryName(name);
      if (parsed.kind === "invalid" || parsed.kind === "ignored") return;
      for (const part of parsed.components) {
        assert.ok(
          part !== ".." && part !== "." && part !== "" && !part.includes("/") && !part.includes("\0"),
        );
      }
    }),
  );
});

test("whiteout names", () => {
  assert.deepEqual(parseEntryName("a/.wh.b"), { kind: "whiteout", components: ["a", "b"] });
  assert.deepEqual(parseEntryName("./a/.wh..wh..opq"), { kind: "opaque", components: ["a"] });
  assert.deepEqual(parseEntryName(".wh..wh..opq"), { kind: "opaque", components: [] });
  assert.deepEqual(parseEntryName("a/.wh..wh.plnk"), { kind: "ignored" });
  assert.deepEqual(parseEntryName("a/.wh..."), { kind: "invalid", detail: "path_traversal" });
  assert.deepEqual(parseEntryName("a/.wh.."), { kind: "invalid", detail: "invalid_name" });
  assert.deepEqual(parseEntryName("a/.wh."), { kind: "invalid", detail: "invalid_name" });
  assert.deepEqual(parseEntryName("/x//y/./z"), { kind: "path", components: ["x", "y", "z"] });
});
