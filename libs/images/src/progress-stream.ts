// Turns a callback-reporting operation into an async iterator of its
// progress followed by its result, so the gRPC layer can stream it.
export type Streamed<P, R> = { progress: P } | { result: R };

export async function* streamProgress<P, R>(run: (onProgress: (p: P) => void) => Promise<R>): AsyncGenerator<Streamed<P, R>> {
  const queue: Array<Streamed<P, R>> = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const push = (item: Streamed<P, R>) => {
    queue.push(item);
    wake?.();
  };
  run((p) => push({ progress: p })).then(
    (r) => {
      push({ result: r });
      finished = true;
      wake?.();
    },
    (e) => {
      failure = { error: e };
      finished = true;
      wake?.();
    },
  );
  for (;;) {
    while (queue.length > 0) yield queue.shift()!;
    if (finished) {
      if (queue.length > 0) continue;
      if (failure) throw failure.error;
      return;
    }
    await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
}
