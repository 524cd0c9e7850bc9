// Shared by the release and deploy end-to-end tests: a valid manifest and release body.
export const DIGEST_A = `sha256:${"a".repeat(64)}`;
export const DIGEST_B = `sha256:${"b".repeat(64)}`;

/** Two processes, web (with a port) and worker; `extra` goes into [processes.web]. */
export function manifest(extra = ""): string {
  return [
    'schema_version = "v1"',
    "[image]",
    'ref = "registry.example.com/shop:1"',
    "[processes.web]",
    'resources = { memory = "256Mi" }',
    "ports = [{ internal = 8080 }]",
    extra,
    "[processes.worker]",
    'resources = { memory = "128Mi" }',
    "scaling = { min = 2, max = 4 }",
    "",
  ].join("\n");
}

export function releaseBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image_ref: "registry.example.com/shop:1",
    index_or_manifest_digest: DIGEST_A,
    resolved_digests: [{ os: "linux", arch: "amd64", digest: DIGEST_B }],
    command: ["/bin/server", "--port", "8080"],
    manifest: manifest(),
    ...overrides,
  };
}
