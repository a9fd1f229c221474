/**
 * Micro-benchmarks of each piece of the plugin's per-update hot path (key
 * resolution, context bookkeeping, lock, load, snapshot, commit), so the
 * end-to-end overhead that `bench/main.ts` measures can be split into parts.
 * Interleaved rounds, median ns per operation, on warm objects: the table
 * does not show what their garbage costs the collector.
 *
 * `deno run -A bench/hot_path.ts` (also part of `deno task bench`).
 *
 * @module
 */

import { Bot, type TelegramUpdate } from "gramio";
import { cloneValue } from "../src/clone.ts";
import { hasChanged, takeSnapshot } from "../src/change_detection/mod.ts";
import { perUser, type SessionContext } from "../src/keys.ts";
import { KeyedLock } from "../src/lock.ts";
import { decodeRecord } from "../src/record.ts";
import { inMemoryStorage } from "../src/storages/memory.ts";
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
  return await piecesTable(rounds, ops);
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
  const table = new Map<object, object>();
  const clearValue = () => Promise.resolve();
  // deno-lint-ignore require-await
  const asyncOne = async () => 1;
  let sink = 0;

  const pieces: Piece[] = [
    { name: "key: perUser(ctx) (sender id to string)", run: (i) => perUser(contexts[i % USERS]) },
    {
      name: "context table: Map set + get + delete",
      run: (i) => {
        const ctx = contexts[i % USERS];
        table.set(ctx, ctx);
        sink += table.get(ctx) === ctx ? 1 : 0;
        table.delete(ctx);
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
      name: "  of which define $clear (Object.defineProperty)",
      run: (i) =>
        Object.defineProperty({ count: i }, "$clear", {
          value: clearValue,
          enumerable: false,
          configurable: true,
          writable: true,
        }),
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
