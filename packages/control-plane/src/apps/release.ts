// The release aggregate (spec platform.md §2.2, §3.4, §5): one immutable
// `release.created` event embedding the normalised manifest. The checks are
// pure; the command (release-commands.ts) only adds I/O.
import { type NormalisedManifest, validateManifest } from "@plfm/contracts";
import { type FieldProblem, KernelError, type NewEvent, type StoredEvent } from "@plfm/kernel";

export const RELEASE = "release";
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface ResolvedDigest {
  os: "linux";
  arch: "amd64" | "arm64";
  digest: string;
}

/** The POST body, as the route schema admits it. */
export interface CreateReleaseRequest {
  image_ref: string;
  index_or_manifest_digest: string;
  resolved_digests?: ResolvedDigest[] | undefined;
  command: string[];
  manifest: string;
  manifest_hash?: string | undefined;
}

/** The `release.created` payload (§3.4) minus the ids; also most of the view. */
export interface ReleaseContent {
  image_ref: string;
  index_or_manifest_digest: string;
  resolved_digests: ResolvedDigest[];
  manifest_schema_version: 1;
  manifest: NormalisedManifest;
  manifest_hash: string;
  manifest_size_bytes: number;
  command: string[];
}

/** The API representation of a release (also the `releases` view row). */
export interface ReleaseView extends ReleaseContent {
  release_id: string;
  org_id: string;
  app_id: string;
  created_at: string;
}

export interface ReleaseState {
  exists: boolean;
  orgId: string;
  appId: string;
  content: ReleaseContent | null;
  createdAt: Date | null;
}

export const initialRelease = (): ReleaseState => ({
  exists: false,
  orgId: "",
  appId: "",
  content: null,
  createdAt: null,
});

export function evolveRelease(state: ReleaseState, e: StoredEvent): ReleaseState {
  if (e.eventType !== "release.created") return state;
  const { release_id: _r, org_id, app_id, ...content } = e.payload as Record<string, unknown>;
  return {
    exists: true,
    orgId: String(org_id),
    appId: String(app_id),
    content: content as unknown as ReleaseContent,
    createdAt: e.occurredAt,
  };
}

export const releaseAggregate = { aggregateType: RELEASE, initial: initialRelease, evolve: evolveRelease };

/**
 * Checks a create request and derives the release's content: digests match
 * `^sha256:[a-f0-9]{64}$` (else `invalid_image_digest`), the manifest passes the
 * shared validator (else `invalid_manifest`, one detail per finding), and a
 * client's `manifest_hash` equals the server's (else `invalid_manifest_hash`).
 * Digests are checked first: they are cheap and the CLI computes them itself.
 */
export function checkRelease(req: CreateReleaseRequest): ReleaseContent {
  const resolved = req.resolved_digests ?? [];
  const bad: FieldProblem[] = [];
  if (!DIGEST.test(req.index_or_manifest_digest)) {
    bad.push({ field: "index_or_manifest_digest", code: "pattern", message: "must match sha256:<64 hex>" });
  }
  resolved.forEach((d, i) => {
    if (!DIGEST.test(d.digest)) {
      bad.push({
        field: `resolved_digests.${i}.digest`,
        code: "pattern",
        message: "must match sha256:<64 hex>",
      });
    }
  });
  if (bad.length > 0) {
    throw new KernelError("invalid_image_digest", "An image digest is malformed.", { details: bad });
  }
  const v = validateManifest(req.manifest);
  if (!v.ok) {
    throw new KernelError("invalid_manifest", "The manifest is invalid.", {
      details: v.errors.map((e) => ({ field: e.path, code: e.code, message: e.message })),
    });
  }
  if (req.manifest_hash !== undefined && req.manifest_hash !== v.hash) {
    throw new KernelError(
      "invalid_manifest_hash",
      `The manifest_hash does not match the server's (${v.hash}).`,
      { details: [{ field: "manifest_hash", code: "mismatch", message: `expected ${v.hash}` }] },
    );
  }
  return {
    image_ref: req.image_ref,
    index_or_manifest_digest: req.index_or_manifest_digest,
    resolved_digests: resolved.map((d) => ({ os: d.os, arch: d.arch, digest: d.digest })),
    manifest_schema_version: 1,
    manifest: v.manifest,
    manifest_hash: v.hash,
    manifest_size_bytes: Buffer.byteLength(req.manifest, "utf8"),
    command: [...req.command],
  };
}

/** The one event of a release; refuses an id already taken (a retried id collision). */
export function decideCreateRelease(
  state: ReleaseState,
  releaseId: string,
  owner: { orgId: string; appId: string },
  content: ReleaseContent,
): NewEvent[] {
  if (state.exists) throw new KernelError("conflict", "The release already exists.");
  return [
    {
      aggregateType: RELEASE,
      aggregateId: releaseId,
      eventType: "release.created",
      orgId: owner.orgId,
      appId: owner.appId,
      payload: { release_id: releaseId, org_id: owner.orgId, app_id: owner.appId, ...content },
    },
  ];
}

export function releaseView(releaseId: string, s: ReleaseState): ReleaseView {
  return {
    release_id: releaseId,
    org_id: s.orgId,
    app_id: s.appId,
    ...(s.content as ReleaseContent),
    created_at: (s.createdAt as Date).toISOString(),
  };
}

/** A release of this app in this org, else 404 (another app's release is indistinguishable from none). */
export function requireRelease(state: ReleaseState, orgId: string, appId: string): ReleaseContent {
  if (!state.exists || state.orgId !== orgId || state.appId !== appId || !state.content) {
    throw new KernelError("not_found", "No such release.", {
      details: [{ field: "release_id", code: "not_found", message: "no such release in this app" }],
    });
  }
  return state.content;
}
