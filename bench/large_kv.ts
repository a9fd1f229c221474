/**
 * Sessions over Deno KV's 64 KiB value limit: how many times a save
 * serializes the session, and what a save of a 200 KB session costs.
 *
 * Serializations are observed from outside, without touching `src/`: the
 * KV database is wrapped to count commits and the commits KV refused
 * ("Value too large": KV serialized the whole session first), and the calls
 * of `node:v8`'s `serialize` are counted through the `Serializer` prototype
 * it builds on (checked here to see them before they are trusted).
 *
 * Save time: the median `storage.set` of the session, next to the floor of
 * any chunking storage: one `serialize`, the bytes cut into 64 KiB chunks and
 * written in one atomic commit.
 *
 * @module
 */

import { serialize, Serializer } from "node:v8";
import { Bot, type TelegramUpdate } from "gramio";
import { denoKvStorage, type KvLike, session } from "../mod.ts";
import { change, sessionOfSize, type Shaped } from "./shapes.ts";
import { median } from "./stats.ts";
import { BOT_INFO, updatesOf } from "./updates.ts";

/** What {@linkcode largeKvSaves} measured. */
export interface LargeKvResult {
  bytes: number;
  saves: number;
  /** `node:v8` serialize calls plus refused commits, per save; NaN when serialize calls cannot be seen. */
  serializationsPerSave: number;
  commitsPerSave: number;
  refusedCommits: number;
  /** Median ms of one `storage.set` of the session. */
  saveMs: number;
  /** Median ms of one serialize + chunks + one commit. */
  floorMs: number;
}

const CHUNK = 65_536;
let serializeCalls = 0;

/** Counts `node:v8` serialize calls from now on; false when they cannot be seen. */
function watchSerialize(): boolean {
  const prototype = Serializer.prototype as { writeHeader: (this: unknown) => void };
  const writeHeader = prototype.writeHeader;
  prototype.writeHeader = function (this: unknown) {
    serializeCalls++;
    return writeHeader.call(this);
  };
  const before = serializeCalls;
  serialize({ probe: 1 });
  return serializeCalls === before + 1;
}

/** `kv` with its commits counted, refused ones apart. */
function countingKv(kv: Deno.Kv, seen: { commits: number; refused: number }): KvLike {
  return {
    get: (key, options) => kv.get(key as Deno.KvKey, options),
    getMany: (keys, options) => kv.getMany(keys as Deno.KvKey[], options),
    list: (selector, options) =>
      kv.list(selector as { prefix: Deno.KvKey; end: Deno.KvKey }, options),
    atomic() {
      const op = kv.atomic();
      const counted: ReturnType<KvLike["atomic"]> = {
        check: (...checks) => (op.check(...checks as Deno.AtomicCheck[]), counted),
        set: (key, value, options) => (op.set(key as Deno.KvKey, value, options), counted),
        delete: (key) => (op.delete(key as Deno.KvKey), counted),
        async commit() {
          seen.commits++;
          try {
            return await op.commit();
          } catch (error) {
            seen.refused++;
            throw error;
          }
        },
      };
      return counted;
    },
  };
}

/**
 * Saves sessions of `bytes` through a bot (`users` users, `passes` changing
 * updates each, the first creating the session) on a KV file in `dir`, then
 * times `storage.set` against the floor `rounds` times.
 */
export async function largeKvSaves(
  dir: string,
  bytes: number,
  users: number,
  passes: number,
  rounds: number,
): Promise<LargeKvResult> {
  const visible = watchSerialize();
  const kv = await Deno.openKv(`${dir}/large-${bytes}.kv`);
  try {
    const seen = { commits: 0, refused: 0 };
    const storage = denoKvStorage(countingKv(kv, seen));
    const template = sessionOfSize(bytes);
    const errors: unknown[] = [];
    const bot = new Bot("1:bench", { info: BOT_INFO })
      .extend(session({ storage, initial: (): Shaped => structuredClone(template) }))
      .on("message", (ctx) => change(ctx.session))
      .onError(({ error }) => void errors.push(error));
    const updates = Array.from(
      { length: passes },
      (_, pass) => updatesOf(users, users, pass * users),
    )
      .flat() as unknown as TelegramUpdate[];
    const serializedBefore = serializeCalls;
    for (const update of updates) await bot.updates.handleUpdate(update);
    if (errors.length) throw errors[0];
    const saves = updates.length;
    const serializations = serializeCalls - serializedBefore + seen.refused;
    const { commits, refused } = seen;

    const saveTimes: number[] = [];
    const floorTimes: number[] = [];
    for (let round = 0; round <= rounds; round++) { // round 0 warms up
      let start = performance.now();
      await storage.set("timed", template);
      if (round > 0) saveTimes.push(performance.now() - start);
      start = performance.now();
      await chunkedSet(kv, template);
      if (round > 0) floorTimes.push(performance.now() - start);
    }
    return {
      bytes,
      saves,
      serializationsPerSave: visible ? serializations / saves : NaN,
      commitsPerSave: commits / saves,
      refusedCommits: refused,
      saveMs: median(saveTimes),
      floorMs: median(floorTimes),
    };
  } finally {
    kv.close();
  }
}

/** The floor: one serialize, 64 KiB chunks, one atomic commit. */
async function chunkedSet(kv: Deno.Kv, value: unknown): Promise<void> {
  const bytes = serialize(value);
  const op = kv.atomic();
  for (let i = 0; i * CHUNK < bytes.byteLength; i++) {
    op.set(["floor", i], bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
  }
  const { ok } = await op.commit();
  if (!ok) throw new Error("floor commit failed");
}
