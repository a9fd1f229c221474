/**
 * One benchmark variant in its own Web Worker: its own V8 heap, so the
 * garbage one variant makes is collected (and paid for) in that variant's own
 * rounds, never in another's. `main.ts` runs the workers one at a time.
 *
 * Messages in: `init` (build, warm up), `run` (time a window of updates, one
 * after another or in batches in flight at once), `finish` (report counts for the
 * sanity checks, release the storage). Each gets one reply.
 *
 * Every run reports wall time and the process's CPU time (`process.cpuUsage`,
 * all threads: the V8 collector's helpers and Deno KV's SQLite thread
 * included; the other workers are idle while it runs).
 *
 * @module
 */

import "./quiet.ts";
import process from "node:process";
import { median } from "./stats.ts";
import { type MessageUpdate, messageUpdate, scatteredUserId } from "./updates.ts";
import { createVariant, type Spec, type Variant } from "./variants.ts";

/** What the main thread asks. */
export type Request =
  | { type: "init"; spec: Spec; warmupUpdates: number; warmupMs: number }
  | { type: "run"; start: number; count: number; inFlight?: number; typical?: boolean }
  | { type: "finish" };

/** Wall and CPU time of one run, µs per update. */
export interface Timing {
  wall: number;
  cpu: number;
}

/** What a worker answers. */
export type Reply =
  | { type: "ready"; label: string; wallPerUpdate: number }
  | ({ type: "ran" } & Timing)
  | {
    type: "done";
    sent: number;
    handled: number;
    errors: string[];
    storedChanges: number;
    changesSent: number;
  }
  | { type: "failed"; error: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: Reply): void;
}

const scope = globalThis as unknown as WorkerScope;
let spec: Spec | undefined;
let variant: Variant | undefined;
let sent = 0;

scope.onmessage = (event) => {
  handle(event.data).then(
    (reply) => scope.postMessage(reply),
    (error) => scope.postMessage({ type: "failed", error: String(error?.stack ?? error) }),
  );
};

/** Process CPU time (user + system), µs. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Handles `count` updates, the `first`-th on, one after another, or `inFlight`
 * at once (as GramIO runs a getUpdates batch). Returns µs per update: the
 * means, or with `typical` (one at a time only) the medians of each update's
 * own times.
 *
 * Each update object is made just before it is handled, as a bot parses it
 * from getUpdates, and both sides of a pair pay for that alike. Made all
 * before the clock started, thousands of them lived through collections and
 * were promoted: whatever a framework or plugin notes on an update then
 * outlived the update in the old generation, a cost no bot pays.
 */
async function time(first: number, count: number, inFlight = 1, typical = false): Promise<Timing> {
  const { handle } = variant!;
  const users = spec!.users;
  const update = (i: number): MessageUpdate => messageUpdate(scatteredUserId(first + i, users));
  sent += count;
  if (typical) {
    const walls = new Float64Array(count);
    const cpus = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const cpu = cpuNow();
      const start = performance.now();
      await handle(update(i));
      walls[i] = (performance.now() - start) * 1000;
      cpus[i] = cpuNow() - cpu;
    }
    return { wall: median([...walls]), cpu: median([...cpus]) };
  }
  const cpu = cpuNow();
  const start = performance.now();
  if (inFlight > 1) {
    for (let i = 0; i < count; i += inFlight) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(count, i + inFlight); j++) batch.push(handle(update(j)));
      await Promise.all(batch);
    }
  } else for (let i = 0; i < count; i++) await handle(update(i));
  return { wall: ((performance.now() - start) * 1000) / count, cpu: (cpuNow() - cpu) / count };
}

async function handle(request: Request): Promise<Reply> {
  switch (request.type) {
    case "init": {
      spec = request.spec;
      variant = await createVariant(spec);
      // Every user once unless seeded (creates the sessions), then more for
      // the JIT: up to `warmupUpdates`, or until `warmupMs` have passed; in
      // chunks, to check the time between them.
      const least = spec.seeded ? 0 : spec.users;
      const chunk = Math.min(spec.users, 1_000);
      const started = performance.now();
      let wallPerUpdate = 0;
      for (let start = 0; start < Math.max(least, request.warmupUpdates); start += chunk) {
        if (start >= least && performance.now() - started > request.warmupMs) break;
        const count = Math.min(chunk, Math.max(least, request.warmupUpdates) - start);
        wallPerUpdate = (await time(start, count)).wall;
      }
      return { type: "ready", label: variant.label, wallPerUpdate };
    }
    case "run": {
      return {
        type: "ran",
        ...await time(request.start, request.count, request.inFlight, request.typical),
      };
    }
    case "finish": {
      const storedChanges = await variant!.storedChanges();
      await variant!.close();
      return {
        type: "done",
        sent,
        handled: variant!.handled(),
        errors: variant!.errors.map((error) => String(error)),
        storedChanges,
        changesSent: spec!.mode === "change" && spec!.store !== "none" ? sent : 0,
      };
    }
  }
}
