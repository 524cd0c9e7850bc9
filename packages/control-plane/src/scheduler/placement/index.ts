// The scheduler's pure placement core: what the reconciler imports.
export { chooseReason, REASON_PRECEDENCE } from "./blocking.ts";
export { describeRejection, evaluateNode, formatBytes } from "./eligibility.ts";
export { createAllocator, IPAM_COOLDOWN_MS, instanceOverlayAddress } from "./ipam.ts";
export { nodeLoads } from "./loads.ts";
export { BOOT_FAILURE_WEIGHT, placeGroup, SPREAD_WEIGHT } from "./place.ts";
export * from "./types.ts";
export { holdsMemory, holdsVolume, nodeUsage } from "./usage.ts";
