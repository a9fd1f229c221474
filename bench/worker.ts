/**
 * One benchmark variant in its own Web Worker: its own V8 heap, so the
 * garbage one variant makes is collected (and paid for) in that variant's own
 * rounds, never in another's. `main.ts` runs the workers one at a time.
 *
 * Messages in: `init` (build, warm up), `run` (time a window of updates,
 * one after another or all in flight at once),
 * `finish` (report counts for the sanity checks). Each gets one reply.
 *
 * @module
 */

import "./quiet.ts";
import { batch, type MessageUpdate, USERS } from "./updates.ts";
import { createVariant, type Variant, type VariantId } from "./variants.ts";

/** What the main thread asks. */
export type Request =
  | { type: "init"; id: VariantId; kvPath?: string; warmupPasses: number }
  | { type: "run"; start: number; count: number; concurrent?: boolean }
  | { type: "finish" };

/** What a worker answers. */
export type Reply =
  | { type: "ready"; label: string }
  | { type: "ran"; microseconds: number }
  | { type: "done"; sent: number; handled: number; errors: string[]; storedTotal: number | null }
  | { type: "failed"; error: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: Reply): void;
}

const scope = globalThis as unknown as WorkerScope;
let variant: Variant | undefined;
let kv: Deno.Kv | undefined;
let updates: MessageUpdate[] = [];
let sent = 0;

scope.onmessage = (event) => {
  handle(event.data).then(
    (reply) => scope.postMessage(reply),
    (error) => scope.postMessage({ type: "failed", error: String(error?.stack ?? error) }),
  );
};

async function handle(request: Request): Promise<Reply> {
  switch (request.type) {
    case "init": {
      if (request.kvPath) kv = await Deno.openKv(request.kvPath);
      variant = await createVariant(request.id, kv);
      updates = batch(USERS);
      // Every user once (creates the sessions), more for the JIT.
      for (let pass = 0; pass < request.warmupPasses; pass++) {
        for (const update of updates) await variant.handle(update);
        sent += updates.length;
      }
      return { type: "ready", label: variant.label };
    }
    case "run": {
      const { handle } = variant!;
      // New update objects each time, as a bot gets from the Bot API (built
      // before the clock starts).
      const window = batch(request.count, request.start);
      const start = performance.now();
      if (request.concurrent) await Promise.all(window.map(handle));
      else for (let i = 0; i < window.length; i++) await handle(window[i]);
      const elapsed = performance.now() - start;
      sent += window.length;
      return { type: "ran", microseconds: elapsed * 1000 };
    }
    case "finish": {
      const storedTotal = variant!.storedTotal ? await variant!.storedTotal() : null;
      kv?.close();
      return {
        type: "done",
        sent,
        handled: variant!.handled(),
        errors: variant!.errors.map((error) => String(error)),
        storedTotal,
      };
    }
  }
}
