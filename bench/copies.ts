/**
 * What the plugin's own copies cost per update on a storage that may hand out
 * and keep live objects (README's `Map` storage, `@gramio/storage`'s
 * in-memory one): the plugin copies what it reads and what it writes, so a
 * failed update or late work cannot change stored data. The built-in
 * storages return copies already and are marked so the plugin skips this.
 * First the copy itself (one per read, one more per write), then the same
 * `Map` storage unmarked (copies) and marked (no copies) through a bot,
 * interleaved, median µs per update, for a small session and a 50 KB one.
 *
 * `deno run -A bench/copies.ts`
 *
 * @module
 */

import "./quiet.ts";
import { Bot, type TelegramUpdate } from "gramio";
import { session, type Storage } from "../mod.ts";
import { cloneValue } from "../src/clone.ts";
import { markReturnsCopies } from "../src/returns_copies.ts";
import { sessionOfSize } from "./shapes.ts";
import { fixed, markdownTable, median } from "./stats.ts";
import { batch, BOT_INFO } from "./updates.ts";

function mapStorage(map: Map<string, unknown>, marked: boolean): Storage {
  const storage: Storage = {
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    has: (key) => map.has(key),
    delete: (key) => map.delete(key),
  };
  return marked ? markReturnsCopies(storage) : storage;
}

type Shape = "small" | "50 KB";

let big: Record<string, unknown> | undefined;

const smallSession = () => ({
  count: 0,
  lang: "en",
  settings: { daily: true, tz: "UTC" },
  tags: ["a", "b"],
});

function bot(map: Map<string, unknown>, marked: boolean, shape: Shape, write: boolean): Bot {
  // initial()'s result is copied by the plugin: one big object serves every user.
  const initial = shape === "small"
    ? smallSession
    : () => ({ count: 0, ...(big ??= sessionOfSize(50 * 1024)) });
  return new Bot("1:bench", { info: BOT_INFO })
    .extend(session({ storage: mapStorage(map, marked), initial }))
    .on("message", (ctx) => {
      if (write) ctx.session.count++;
      else if (ctx.session.count < 0) console.log("never");
    });
}

async function perUpdate(target: Bot, updates: TelegramUpdate[]): Promise<number> {
  const start = performance.now();
  for (const update of updates) await target.updates.handleUpdate(update);
  return ((performance.now() - start) * 1000) / updates.length;
}

/** The copy itself: what the plugin adds per read, and again per write. */
function copyMicroseconds(value: object, ops: number): number {
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < ops; i++) sink += Object.keys(cloneValue(value)).length;
  const us = ((performance.now() - start) * 1000) / ops;
  if (sink < 0) console.log(sink);
  return us;
}

/** Both tables, as Markdown. */
export async function copiesTable(rounds = 7, users = 200): Promise<string> {
  const copyRows: string[][] = [];
  for (const shape of ["small", "50 KB"] as const) {
    const value = shape === "small"
      ? smallSession()
      : { count: 0, ...(big ??= sessionOfSize(50 * 1024)) };
    const ops = shape === "small" ? 100_000 : 300;
    copyMicroseconds(value, ops);
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) samples.push(copyMicroseconds(value, ops));
    copyRows.push([shape, fixed(median(samples), 2)]);
  }
  const copies = markdownTable(["session", "one copy (cloneValue) µs, median"], copyRows);
  return copies + "\n\n" + await updatesTable(rounds, users);
}

/** End to end through a bot: noisy on a busy machine, the copy table is the stable figure. */
async function updatesTable(rounds: number, users: number): Promise<string> {
  const updates = batch(users) as unknown as TelegramUpdate[];
  const rows: string[][] = [];
  for (const shape of ["small", "50 KB"] as const) {
    // One map for both: every user has a stored session before timing.
    const map = new Map<string, unknown>();
    await perUpdate(bot(map, false, shape, true), updates);
    for (const write of [false, true]) {
      const copying = bot(map, false, shape, write);
      const marked = bot(map, true, shape, write);
      await perUpdate(copying, updates);
      await perUpdate(marked, updates);
      const a: number[] = [];
      const b: number[] = [];
      for (let round = 0; round < rounds; round++) {
        a.push(await perUpdate(copying, updates));
        b.push(await perUpdate(marked, updates));
      }
      const copy = median(a);
      const skip = median(b);
      rows.push([
        `${shape}, ${write ? "changes it" : "reads it"}`,
        fixed(skip, 2),
        fixed(copy, 2),
        fixed(copy - skip, 2),
      ]);
    }
  }
  return markdownTable(
    ["Map storage, session", "marked (no copies) µs", "copies µs", "cost µs/update"],
    rows,
  );
}

if (import.meta.main) {
  console.log(await copiesTable());
}
