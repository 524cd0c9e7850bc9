// The exec wire format (spec platform.md §7.8): binary WebSocket messages whose
// first byte says what the rest is. Pure.

export const FRAME = {
  stdin: 0x01,
  stdout: 0x02,
  stderr: 0x03,
  /** JSON: resize from the client, `{type: "close"}` from the server to the agent. */
  control: 0x10,
  /** JSON `{type: "exit", exit_code, reason?}`: the last frame of every session (compliance 62). */
  exit: 0x11,
} as const;

/** What the client may send on to the agent. */
export const FROM_CLIENT: ReadonlySet<number> = new Set([FRAME.stdin, FRAME.control]);
/** What the agent may send on to the client (exit is handled apart). */
export const FROM_AGENT: ReadonlySet<number> = new Set([FRAME.stdout, FRAME.stderr, FRAME.control]);

export function jsonFrame(kind: number, value: unknown): Buffer {
  return Buffer.concat([Buffer.from([kind]), Buffer.from(JSON.stringify(value))]);
}

export function exitFrame(exitCode: number | null, reason: string): Buffer {
  return jsonFrame(FRAME.exit, { type: "exit", exit_code: exitCode, reason });
}

export const closeFrame = (): Buffer => jsonFrame(FRAME.control, { type: "close" });

/** The exit code an agent's 0x11 frame reports; null when it is missing or not an integer. */
export function exitCodeOf(frame: Buffer): number | null {
  try {
    const v = JSON.parse(frame.subarray(1).toString("utf8")) as { exit_code?: unknown };
    return Number.isInteger(v.exit_code) ? (v.exit_code as number) : null;
  } catch {
    return null;
  }
}

/** A ws message as one Buffer. */
export function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
