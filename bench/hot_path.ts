/**
 * Micro-benchmarks of each piece of the plugin's per-update hot path (key
 * resolution, context bookkeeping, lock, load, snapshot, commit), so the
 * end-to-end overhead that `bench/main.ts` measures can be split into parts.
 *
 * Two tables:
 * - pieces, in interleaved rounds, median ns per operation. They run on warm
 *   objects, so they do not show what their garbage costs the collector;
 * - ways to find an update's session state from its context, each timed
 *   with garbage collection included (fresh context-sized objects per
 *   iteration, mean over the whole run): a WeakMap keyed by short-lived
 *   objects is cheap to write but expensive to collect, most of all when the
 *   value references its key.
 *
 * `deno run -A bench/hot_path.ts` (also part of `deno task bench`).
 *
 * @module
 */

import { Bot, type TelegramUpdate } from "gramio";
import { cloneValue } from "../src/clone.ts";
import { hasChanged, takeSnapshot } from "../src/fingerprint.ts";
import { perUser, type SessionContext } from "../src/keys.ts";
import { KeyedLock } from "../src/lock.ts";
import { decodeRecord } from "../src/record.ts";
import { inMemoryStorage } from "../src/storages/memory.ts";
import { STATE_WAYS } from "./state_table_worker.ts";
import { fixed, markdownTable, median } from "./stats.ts";
import { batch, BOT_INFO, USERS } from "./updates.ts";

/** One timed piece: `run(i)` does one operation. */
interface Piece {
  name: string;
  run: (i: number) => unknown;
  /** Whether `run` returns a promise to await. */
  async?: boolean;
}

/** Both tables, as Markdown. */
export async function hotPathBreakdown(rounds = 15, ops = 5_000): Promise<string> {
  return (await piecesTable(rounds, ops)) + "\n\n" + (await stateTableTable());
}

async function piecesTable(rounds: number, ops: number): Promise<string> {
  const contexts = await realContexts();
  const keys = contexts.map((ctx) => perUser(ctx)!);
  const storage = inMemoryStorage();
  for (const key of keys) await storage.set(key, { count: 1 });
  const versions = await Promise.all(
    keys.map(async (key) => (await storage.getVersioned(key)).version),
  );
  const lock = new KeyedLock();
  const accessor = { configurable: true, enumerable: false, get: () => 1 };
  const clearValue = () => Promise.resolve();
  // deno-lint-ignore require-await
  const asyncOne = async () => 1;
  let sink = 0;

  const pieces: Piece[] = [
    { name: "key: perUser(ctx) (sender id to string)", run: (i) => perUser(contexts[i % USERS]) },
    {
      name: 'guard: `"session" in ctx`',
      run: (i) => "session" in contexts[i % USERS],
    },
    {
      name: "accessor: Object.defineProperty(ctx, ...) + delete",
      run: (i) => {
        const ctx = contexts[i % USERS] as unknown as Record<string, unknown>;
        Object.defineProperty(ctx, "session", accessor);
        delete ctx.session;
      },
    },
    {
      name: "lock: acquire + release, free key",
      run: (i) => {
        const release = lock.acquire(keys[i % USERS], contexts[i % USERS]) as () => void;
        release();
      },
    },
    {
      name: "read: inMemory getVersioned + await",
      run: (i) => storage.getVersioned(keys[i % USERS]),
      async: true,
    },
    { name: "  of which cloneValue({ count })", run: (i) => cloneValue({ count: i }) },
    {
      name: "load: decodeRecord + define $clear + takeSnapshot",
      run: (i) => {
        const data = decodeRecord({ count: i }).data as object;
        Object.defineProperty(data, "$clear", {
          value: clearValue,
          enumerable: false,
          configurable: true,
          writable: true,
        });
        return takeSnapshot(data);
      },
    },
    {
      name: "commit: takeSnapshot + count++ + hasChanged",
      run: (i) => {
        const data = { count: i };
        const base = takeSnapshot(data);
        data.count++;
        return hasChanged(base, data);
      },
    },
    {
      name: "write: inMemory setIfVersion + getVersioned + await",
      run: async (i) => {
        const key = keys[i % USERS];
        const ok = await storage.setIfVersion(key, { count: i }, versions[i % USERS]);
        if (!ok) throw new Error("version moved");
        versions[i % USERS] = (await storage.getVersioned(key)).version;
      },
      async: true,
    },
    {
      name: "one async hop: call an async function + await it",
      run: async () => {
        sink += await asyncOne();
      },
      async: true,
    },
  ];

  const samples = new Map<Piece, number[]>(pieces.map((piece) => [piece, []]));
  for (let round = -1; round < rounds; round++) { // round -1 warms up
    for (const piece of round % 2 ? pieces : [...pieces].reverse()) {
      const run = piece.run;
      const start = performance.now();
      if (piece.async) { for (let i = 0; i < ops; i++) await run(i); }
      else for (let i = 0; i < ops; i++) run(i);
      const ns = ((performance.now() - start) * 1e6) / ops;
      if (round >= 0) samples.get(piece)!.push(ns);
    }
  }
  if (sink < 0) console.log(sink);
  return markdownTable(
    ["Hot path piece (warm objects, no GC pressure)", "ns/op (median)"],
    pieces.map((piece) => [piece.name, fixed(median(samples.get(piece)!), 0)]),
  );
}

/**
 * Ways to attach per-update state to a context, with the garbage collection
 * they cause: each in its own worker (own heap), so one way's promoted garbage
 * is never collected during another's run.
 */
async function stateTableTable(): Promise<string> {
  const results: number[] = [];
  for (let way = 0; way < STATE_WAYS.length; way++) {
    const worker = new Worker(new URL("./state_table_worker.ts", import.meta.url), {
      type: "module",
    });
    results.push(
      await new Promise<number>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<number>) => resolve(event.data);
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(event.message));
        };
        worker.postMessage(way);
      }),
    );
    worker.terminate();
  }
  return markdownTable(
    ["Per-update state lookup (fresh objects, GC included)", "ns/update", "minus nothing"],
    STATE_WAYS.map((name, way) => [
      name,
      fixed(results[way], 0),
      way === 0 ? "" : fixed(results[way] - results[0], 0),
    ]),
  );
}

/** Real GramIO message contexts, captured from handlers, one per user. */
async function realContexts(): Promise<SessionContext[]> {
  const contexts: SessionContext[] = [];
  const bot = new Bot("1:bench", { info: BOT_INFO }).on("message", (ctx) => {
    contexts.push(ctx as unknown as SessionContext);
  });
  for (const update of batch(USERS)) {
    await bot.updates.handleUpdate(update as unknown as TelegramUpdate);
  }
  return contexts;
}

if (import.meta.main) {
  console.log(await hotPathBreakdown());
}
