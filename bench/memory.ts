/**
 * Heap bytes per stored in-memory session, in a process of its own started
 * with `--v8-flags=--expose-gc`: a bot creates `sessions` sessions through
 * its real update path (one changing update per user), and the heap in use
 * after a full collection is compared with the heap before them. A first
 * round of users warms the bot up (JIT code, caches) before the baseline.
 *
 * `deno run --v8-flags=--expose-gc -A bench/memory.ts '<spec JSON>' <sessions>`
 * prints `{ "bytesPerSession": n }`. {@linkcode heapPerSession} runs it.
 *
 * @module
 */

import "./quiet.ts";
import { updatesOf } from "./updates.ts";
import { createVariant, type Spec } from "./variants.ts";

const WARMUP_USERS = 1_000;

/** Runs this file in a subprocess; heap bytes per session of `spec` over `sessions` users. */
export async function heapPerSession(spec: Spec, sessions: number): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "-A",
      new URL(import.meta.url).pathname,
      JSON.stringify(spec),
      String(sessions),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`memory measurement failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  }
  return (JSON.parse(text) as { bytesPerSession: number }).bytesPerSession;
}

async function measure(spec: Spec, sessions: number): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  const users = WARMUP_USERS + sessions;
  const variant = await createVariant({ ...spec, users });
  const handleUsers = async (first: number, count: number) => {
    for (let start = first; start < first + count; start += 10_000) {
      for (const update of updatesOf(users, Math.min(10_000, first + count - start), start)) {
        await variant.handle(update);
      }
    }
  };
  await handleUsers(0, WARMUP_USERS);
  const heap = () => {
    gc();
    gc();
    return Deno.memoryUsage().heapUsed;
  };
  const before = heap();
  await handleUsers(WARMUP_USERS, sessions);
  const after = heap();
  if (variant.errors.length) throw variant.errors[0];
  if (variant.handled() !== users) throw new Error(`handled ${variant.handled()} of ${users}`);
  // Keeps the bot (and so its storage) alive until after the measurement.
  await variant.close();
  return (after - before) / sessions;
}

if (import.meta.main) {
  const bytesPerSession = await measure(JSON.parse(Deno.args[0]) as Spec, Number(Deno.args[1]));
  console.log(JSON.stringify({ bytesPerSession }));
}
