/** Channel readers are woken on after events are appended. */
export const EVENTS_CHANNEL = "plfm_events";
/** Channel the projection runner notifies after it advances a checkpoint. */
export const CHECKPOINTS_CHANNEL = "plfm_checkpoints";
