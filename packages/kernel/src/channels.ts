/** Channel readers are woken on after events are appended. */
export const EVENTS_CHANNEL = "plfm_events";
/** In-process only: a read-your-writes waiter asks the runner to catch the named projections up. */
export const CATCH_UP_CHANNEL = "plfm_catch_up";
/** Channel the projection runner notifies after it advances a checkpoint. */
export const CHECKPOINTS_CHANNEL = "plfm_checkpoints";

/**
 * What this process puts in its wake-up NOTIFYs. Its own Notifier drops them:
 * appends made here already woke this process's readers in-process, naming
 * the event types, and the echo would wake every projection for nothing.
 */
export const WAKE_PAYLOAD = `wake:${process.pid}:${Math.random().toString(36).slice(2)}`;
