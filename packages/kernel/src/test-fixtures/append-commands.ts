// The commands append-loop.ts sends, derived from their number alone, so the
// test can re-send an acknowledged one with the same key and body.
import type { AppendInput } from "../append.ts";
import type { CommandMeta, NewEvent } from "../events.ts";
import { requestHash } from "../idempotency.ts";

export const CRASH_ENDPOINT = "crash.append";
const AGGREGATES = 5;
const meta: CommandMeta = { actorType: "user", actorId: "usr_crash", requestId: "req_crash" };

/** Command `n`: 1–3 events over one or two of a handful of aggregates, under key `cmd-<n>`. */
export function crashCommand(n: number): AppendInput {
  const key = `cmd-${n}`;
  const body = { n };
  const first = `agg-${n % AGGREGATES}`;
  const second = `agg-${(n * 7 + 3) % AGGREGATES}`;
  const events: NewEvent[] = [];
  const count = 1 + (n % 3);
  for (let i = 0; i < count; i++) {
    const id = i % 2 === 0 ? first : second;
    events.push({ aggregateType: "crash", aggregateId: id, eventType: "crash.appended", payload: { n, i } });
  }
  return {
    meta,
    events,
    idempotency: {
      scope: "_global",
      actorId: meta.actorId,
      endpoint: CRASH_ENDPOINT,
      key,
      requestHash: requestHash(CRASH_ENDPOINT, body),
      response: { key, n },
    },
  };
}
