// Typed failures of image handling. Spec platform.md §7.6: the instance reason is always
// `image_pull_failed`; `code` is the spec's detail (image_layer_invalid, image_too_large,
// image_pull_timeout) and `detail` says which rule fired, for logs and tests.

export type ImageFailureCode = "image_layer_invalid" | "image_too_large" | "image_pull_timeout";

export class ImageUnpackError extends Error {
  readonly reason = "image_pull_failed";
  readonly code: ImageFailureCode;
  readonly detail: string;
  /** Digest of the layer being applied, when the failure belongs to one. */
  readonly layer: string | undefined;

  constructor(code: ImageFailureCode, detail: string, message: string, layer?: string) {
    super(message);
    this.name = "ImageUnpackError";
    this.code = code;
    this.detail = detail;
    this.layer = layer;
  }
}

export interface UnpackLimits {
  /** Most layers an image may have. */
  maxLayers: number;
  /** Cap on the decompressed tar bytes of all layers together (a gzip bomb stops here). */
  maxUncompressedBytes: number;
  /** Cap on the layer files' sizes together; unchecked when absent. */
  maxCompressedBytes?: number;
  /** Wall-clock budget for applying one layer; unbounded when absent. */
  layerTimeoutMs?: number;
}

const GiB = 1024 ** 3;

/** The limits of spec §7.6. */
export const SPEC_IMAGE_LIMITS: Required<UnpackLimits> = {
  maxLayers: 128,
  maxUncompressedBytes: 50 * GiB,
  maxCompressedBytes: 10 * GiB,
  layerTimeoutMs: 5 * 60_000,
};
