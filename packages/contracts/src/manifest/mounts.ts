// `mounts[]` of one process. References to `[[volumes]]` are checked by the caller,
// which knows every declared volume and every other process's mounts.

import { MANIFEST_ERROR_CODES as E, type PathSegments } from "./errors.ts";
import { own, type Reader, type Table, typeName } from "./read.ts";
import { MANIFEST_DEFAULTS as D, type NormalisedMount } from "./types.ts";
import { normaliseMountPath } from "./values.ts";

const HOST_MOUNT = "host and privileged mounts are not supported in v1; mount a [[volumes]] entry instead";

/**
 * A mount as read, with its index in the file (errors point at the file, not the
 * output). `mount` is undefined when the entry has errors; `volume` is kept anyway
 * so a dangling volume reference is still reported.
 */
export interface ReadMount {
  index: number;
  volume: string | undefined;
  mount: NormalisedMount | undefined;
}

/** Reads mounts; `count` is how many entries the file has (valid or not). */
export function readMounts(
  r: Reader,
  proc: Table,
  path: PathSegments,
): { mounts: ReadMount[]; count: number } {
  const at = [...path, "mounts"];
  const raw = own(proc, "mounts");
  if (raw === undefined) return { mounts: [], count: 0 };
  if (!Array.isArray(raw)) {
    r.sink.add(
      at,
      E.E_TYPE,
      `must be an array of tables ([[processes.<name>.mounts]]), got ${typeName(raw)}`,
    );
    return { mounts: [], count: 1 };
  }
  const mounts: ReadMount[] = [];
  const byPath = new Map<string, number>();
  const byVolume = new Map<string, number>();
  raw.forEach((item: unknown, i) => {
    const p = [...at, i];
    const t = r.table(item, p, {
      keys: ["volume", "path", "read_only"],
      unsupported: {
        host_path: HOST_MOUNT,
        host: HOST_MOUNT,
        source: HOST_MOUNT,
        type: HOST_MOUNT,
        privileged: HOST_MOUNT,
      },
    });
    if (!t) return;
    const volume = r.string(t, "volume", p, { required: true });
    const rawPath = r.string(t, "path", p, { required: true });
    const readOnly = r.boolean(t, "read_only", p);
    let mountPath: string | undefined;
    if (rawPath !== undefined) {
      const n = normaliseMountPath(rawPath);
      if ("problem" in n) r.sink.add([...p, "path"], E.E_MOUNT_PATH, n.problem);
      else mountPath = n.path;
    }
    if (mountPath !== undefined) {
      const same = byPath.get(mountPath);
      if (same !== undefined) {
        r.sink.add([...p, "path"], E.E_DUPLICATE, `${mountPath} is already used by mounts[${same}]`);
      } else byPath.set(mountPath, i);
    }
    if (volume !== undefined) {
      const same = byVolume.get(volume);
      if (same !== undefined) {
        r.sink.add(
          [...p, "volume"],
          E.E_DUPLICATE,
          `volume "${volume}" is already mounted by mounts[${same}]`,
        );
      } else byVolume.set(volume, i);
    }
    const mount =
      volume !== undefined && mountPath !== undefined
        ? { volume, path: mountPath, read_only: readOnly ?? D.mountReadOnly }
        : undefined;
    mounts.push({ index: i, volume, mount });
  });
  return { mounts, count: raw.length };
}
