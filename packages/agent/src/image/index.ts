export { type ImageFailureCode, ImageUnpackError, SPEC_IMAGE_LIMITS, type UnpackLimits } from "./errors.ts";
export { type LayerRef, type UnpackStats, unpackLayers } from "./unpack.ts";
