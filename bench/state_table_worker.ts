/**
 * One way of attaching per-update state to a context, timed in its own
 * worker for `hot_path.ts`: a million fresh context-sized objects (after
 * 100,000 to warm up), garbage collection included. Receives the way's
 * index, answers ns per update.
 *
 * @module
 */

/** The ways, in table order; the index is the message a worker receives. */
export const STATE_WAYS = [
  "nothing (a fresh context only)",
  "WeakMap.set(ctx, state), state references ctx (as now)",
  "WeakMap.set(ctx, state), state without ctx",
  "Map.set(ctx, state) + delete when the update ends",
  "ctx[symbol] = state",
] as const;

/** A fresh object about the size of a GramIO context's own data. */
function contextLike(i: number): Record<string | symbol, unknown> {
  return {
    updateId: i,
    payload: { message_id: i, text: "hello", chat: { id: i }, from: { id: i } },
    list: [i, i + 1, i + 2, i + 3],
    name: "context",
  };
}

function run(way: number, iterations: number): number {
  const STATE = Symbol("state");
  const weak = new WeakMap<object, unknown>();
  const strong = new Map<object, unknown>();
  const step: (i: number) => unknown = [
    (i: number) => contextLike(i),
    (i: number) => {
      const ctx = contextLike(i);
      weak.set(ctx, { ctx, key: "k" });
      return ctx;
    },
    (i: number) => {
      const ctx = contextLike(i);
      weak.set(ctx, { key: "k" });
      return ctx;
    },
    (i: number) => {
      const ctx = contextLike(i);
      strong.set(ctx, { ctx, key: "k" });
      strong.delete(ctx);
      return ctx;
    },
    (i: number) => {
      const ctx = contextLike(i);
      ctx[STATE] = { ctx, key: "k" };
      return ctx;
    },
  ][way];
  let kept: unknown;
  for (let i = 0; i < iterations / 10; i++) kept = step(i); // warms up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) kept = step(i);
  const elapsed = performance.now() - start;
  if (kept === undefined) throw new Error("unreachable");
  return (elapsed * 1e6) / iterations;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<number>) => void) | null;
  postMessage(message: number): void;
}

// Only when loaded as a worker (hot_path.ts also imports STATE_WAYS).
if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (event) => scope.postMessage(run(event.data, 1_000_000));
}
