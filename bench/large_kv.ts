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

/** Saves of one kind: a new session's first, or later ones. */
export interface SavePhase {
  saves: number;
  /** `node:v8` serialize calls plus refused commits, per save; NaN when serialize calls cannot be seen. */
  serializationsPerSave: number;
  commitsPerSave: number;
  refusedCommits: number;
}

/** What {@linkcode largeKvSaves} measured. */
export interface LargeKvResult {
  bytes: number;
  /** Each user's first update (the session is new). */
  first: SavePhase;
  /** The updates after it. */
  later: SavePhase;
  /** Median ms of one `storage.set` of the session. */
  saveMs: number;
  /** Median ms of one serialize + chunks + one commit. */
  floorMs: number;
}

const CHUNK = 65_536;
let serializeCalls = 0;

let watching = false;

/** Counts `node:v8` serialize calls from now on (patched once); false when they cannot be seen. */
function watchSerialize(): boolean {
  if (!watching) {
    watching = true;
    const prototype = Serializer.prototype as { writeHeader: (this: unknown) => void };
    const writeHeader = prototype.writeHeader;
    prototype.writeHeader = function (this: unknown) {
      serializeCalls++;
      return writeHeader.call(this);
    };
  }
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
 * Saves sessions of `bytes` through a bot (`users` users, `passes` (at least
 * 2) changing updates each, the first creating the session) on a KV file in `dir`, then
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
    const phase = async (pass: number, passes: number): Promise<SavePhase> => {
      const before = { serialized: serializeCalls, ...seen };
      const updates = updatesOf(users, users * passes, pass * users);
      for (const update of updates) {
        await bot.updates.handleUpdate(update as unknown as TelegramUpdate);
      }
      if (errors.length) throw errors[0];
      const refused = seen.refused - before.refused;
      const serializations = serializeCalls - before.serialized + refused;
      return {
        saves: updates.length,
        serializationsPerSave: visible ? serializations / updates.length : NaN,
        commitsPerSave: (seen.commits - before.commits) / updates.length,
        refusedCommits: refused,
      };
    };
    const first = await phase(0, 1);
    const later = await phase(1, passes - 1);

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
      first,
      later,
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
