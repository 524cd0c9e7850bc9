// POST /v1/nodes/{node}/logs (spec platform.md §4.4, §7.7): a node agent's
// batch of workload log lines. A batch naming any instance that is not
// allocated to this node is refused whole (403, nothing written): a correct
// agent never sends one, so it is a bug or a forged claim, and accepting the
// rest would hide it. Org, app, env and process type come from the instance,
// never from the agent.
import { KernelError, type Pool } from "@plfm/kernel";
import type { FastifyInstance } from "fastify";
import { type Static, Type } from "typebox";
import { addNodeRoute } from "../fleet/node-auth.ts";
import { idSchema as ulid } from "../http/ids.ts";
import type { RouteDeps } from "../http/route.ts";
import { MAX_BATCH_ENTRIES, prepareBatch, RFC3339_NS_PATTERN, type StoredEntry } from "./entries.ts";
import { wakeLogReaders } from "./wake.ts";

const Entry = Type.Object(
  {
    ts: Type.String({
      pattern: RFC3339_NS_PATTERN,
      maxLength: 64,
      description: "RFC 3339 with up to nine fraction digits (nanoseconds), any offset",
    }),
    instance_id: ulid("inst"),
    stream: Type.Union([Type.Literal("stdout"), Type.Literal("stderr")]),
    line: Type.String({ description: "lines over 16 KiB are cut to 16 KiB ending in … (truncated = true)" }),
    truncated: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const LogBatch = Type.Object(
  {
    entries: Type.Array(Entry, {
      maxItems: MAX_BATCH_ENTRIES,
      description: "at most 1000 entries whose lines total at most 1 MiB",
    }),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ node: ulid("node") }, { additionalProperties: false });
const Accepted = Type.Object({ accepted: Type.Integer() });

// 1000 entries of JSON around 1 MiB of lines, with room for escaping; the
// 1 MiB rule itself is checked on the lines (entries.ts), with a clear detail.
const BODY_LIMIT = 4 * 1024 * 1024;

export function registerLogIngestRoute(app: FastifyInstance, deps: RouteDeps): void {
  addNodeRoute<Static<typeof LogBatch>>(app, deps.pool, deps.now, {
    method: "POST",
    url: "/v1/nodes/:node/logs",
    operationId: "nodes.logs.post",
    summary: "The node posts a batch of workload log lines (≤ 1000 entries, ≤ 1 MiB of lines)",
    params: Params,
    body: LogBatch,
    bodyLimit: BODY_LIMIT,
    response: { 200: Accepted },
    handler: async ({ nodeId, body }) => {
      const entries = prepareBatch(body.entries);
      if (entries.length === 0) return { status: 200, body: { accepted: 0 } };
      await requireOwnInstances(deps.pool, nodeId, entries);
      const accepted = await insertBatch(deps.pool, nodeId, entries);
      wakeLogReaders(deps.pool);
      return { status: 200, body: { accepted } };
    },
  });
}

/** 403 when any instance is unknown or allocated to another node (both look the same to the node). */
async function requireOwnInstances(pool: Pool, nodeId: string, entries: readonly StoredEntry[]) {
  const ids = [...new Set(entries.map((e) => e.instanceId))];
  const { rows } = await pool.query<{ instance_id: string }>(
    "SELECT instance_id FROM instances WHERE instance_id = ANY($1) AND node_id = $2",
    [ids, nodeId],
  );
  const own = new Set(rows.map((r) => r.instance_id));
  const foreign = ids.filter((id) => !own.has(id));
  if (foreign.length > 0) {
    throw new KernelError(
      "forbidden",
      "The batch names instances not allocated to this node; nothing was written.",
      {
        details: foreign.slice(0, 20).map((id) => ({
          field: "entries.instance_id",
          code: "not_allocated_to_node",
          message: id,
        })),
      },
    );
  }
}

// One statement per batch. The join re-checks the node, so a row can never be
// filed under an instance of another node even if the check above raced; the
// instance's ids are copied from the view. ORDER BY keeps ids in batch order.
const INSERT_SQL = `
INSERT INTO workload_logs
  (ts, ts_ns, org_id, app_id, env_id, process_type, instance_id, node_id, stream, line, truncated)
SELECT timestamptz 'epoch' + (u.ts_ns / 1000)::float8 * interval '1 microsecond', u.ts_ns,
       i.org_id, i.app_id, i.env_id, i.process_type, i.instance_id, i.node_id, u.stream, u.line, u.truncated
  FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[])
         WITH ORDINALITY AS u(ts_ns, instance_id, stream, line, truncated, n)
  JOIN instances i ON i.instance_id = u.instance_id AND i.node_id = $1
 ORDER BY u.n`;

async function insertBatch(pool: Pool, nodeId: string, entries: readonly StoredEntry[]): Promise<number> {
  const r = await pool.query({
    name: "logs_insert_batch",
    text: INSERT_SQL,
    values: [
      nodeId,
      entries.map((e) => e.tsNs.toString()),
      entries.map((e) => e.instanceId),
      entries.map((e) => e.stream),
      entries.map((e) => e.line),
      entries.map((e) => e.truncated),
    ],
  });
  return r.rowCount ?? 0;
}
