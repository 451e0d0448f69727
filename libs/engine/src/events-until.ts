// Ending an events replay bounded by `until` (docker events --until).
//
// JetStream ends a consumer only when it delivers an event past `until`, and
// none may ever come; ending at `until` by the wall clock alone (as before)
// cut a replay short: `berth events --since 10m --until 5m` printed nothing,
// since the timer fired before the consumer had delivered the old events.
// So once `until` has passed, the stream ends as soon as the reader has
// caught up with what the stream holds: an event delivered with nothing more
// pending, or no event at all for `idleMs` (a replay delivers its first
// events within milliseconds; an empty one delivers none).
export class UntilEnd {
  private reached = false;
  private ended = false;
  private caughtUp = false;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `end` is called once, when `until` has passed and the reader caught up. */
  constructor(until: Date, private readonly end: () => void, private readonly idleMs = 300, now = Date.now()) {
    this.timer = setTimeout(() => this.untilReached(), Math.max(0, until.getTime() - now));
  }

  /** An event was delivered, with `pending` more matching events in the stream (undefined: unknown). */
  delivered(pending: number | undefined): void {
    this.caughtUp = pending === 0;
    if (this.reached) this.check();
  }

  close(): void {
    clearTimeout(this.timer);
    clearTimeout(this.idle);
  }

  private untilReached(): void {
    this.reached = true;
    this.check();
  }

  private check(): void {
    clearTimeout(this.idle);
    if (this.ended) return;
    if (this.caughtUp) this.finish();
    else this.idle = setTimeout(() => this.finish(), this.idleMs);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.end();
  }
}
