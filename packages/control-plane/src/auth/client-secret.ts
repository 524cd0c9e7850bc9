// Service-principal client secrets: random, shown once, stored as argon2id.
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): 50–250 ms of CPU here.
// Unlike our tokens, a client secret may be handled carelessly elsewhere
// (copied into CI settings), so it gets a slow hash (spec §2.2).
const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 } as const;

/** A new client secret: 32 random bytes, base64url. */
export function newClientSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** The PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`; parameters travel with it. */
export async function hashClientSecret(secret: string): Promise<string> {
  return (await hasher.run({
    op: "hash",
    password: secret,
    salt: [...randomBytes(16)],
    params: PARAMS,
  })) as string;
}

/**
 * Whether `secret` matches `hash` (null: unknown client). An unknown client
 * is refused without hashing: client ids are not secret (they are principal
 * ids, in URLs and events), and a dummy hash for every unknown id would let
 * anyone keep the CPU busy for free.
 */
export async function verifyClientSecret(secret: string, hash: string | null): Promise<boolean> {
  if (hash === null) return false;
  try {
    return (await hasher.run({ op: "verify", password: secret, hash })) === true;
  } catch (err) {
    // A malformed stored hash is a mismatch, not a 500 that tells the caller more;
    // a dead hashing thread is our fault and stays an error.
    if (err instanceof Argon2Error) return false;
    throw err;
  }
}

/** argon2 itself refused (e.g. a malformed PHC string). */
class Argon2Error extends Error {}

// hash-wasm computes synchronously inside its wasm module: on the main thread
// each hash would stall every request, SSE stream and the leader lease's
// health check for its whole duration. So hashing runs on one worker thread
// (argon2 calls queue there, one at a time). The worker is plain JS given as
// source, so it needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const lib = import(workerData.hashWasm);
parentPort.on("message", async (m) => {
  try {
    const { argon2id, argon2Verify } = await lib;
    const result = m.op === "hash"
      ? await argon2id({ ...m.params, password: m.password, salt: new Uint8Array(m.salt), outputType: "encoded" })
      : await argon2Verify({ password: m.password, hash: m.hash });
    parentPort.postMessage({ id: m.id, result });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

type Job =
  | { op: "hash"; password: string; salt: number[]; params: typeof PARAMS }
  | { op: "verify"; password: string; hash: string };

/**
 * The hashing thread. States: none → running (started on the first job) →
 * none again if it dies (pending jobs fail; the next job starts a new one).
 * It keeps the process alive only while jobs are pending.
 */
class HashWorker {
  #worker: Worker | null = null;
  #next = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  run(job: Job): Promise<unknown> {
    const worker = this.#worker ?? this.#start();
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...job });
    });
  }

  #start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { hashWasm: import.meta.resolve("hash-wasm") },
    });
    worker.unref();
    worker.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      if (!p) return;
      if (m.error !== undefined) p.reject(new Argon2Error(`argon2: ${m.error}`));
      else p.resolve(m.result);
    });
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#worker = null;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the hashing thread exited with ${code}`)));
    this.#worker = worker;
    return worker;
  }
}

const hasher = new HashWorker();
