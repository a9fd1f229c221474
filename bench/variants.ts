/**
 * The benchmarked bots, built from a {@linkcode Spec}. Each handles one
 * message update at a time through its framework's own entry point
 * (`bot.updates.handleUpdate` for GramIO, `bot.handleUpdate` for grammY),
 * with no network: every bot is given its own user so that none calls getMe,
 * and no handler calls the Bot API.
 *
 * Only the public API of this package is used, so the benchmark measures
 * whatever `src/` does today.
 *
 * @module
 */

import { Bot, type TelegramUpdate } from "gramio";
import {
  Bot as GrammyBot,
  type Context as GrammyContext,
  MemorySessionStorage,
  session as grammySession,
  type SessionFlavor,
  type StorageAdapter,
} from "grammy";
import { parse, stringify } from "devalue";
import { Redis } from "ioredis";
import { denoKvStorage, inMemoryStorage, session, type Storage } from "../mod.ts";
import { redisStorage } from "../redis.ts";
import { type Calls, countCalls } from "./counting.ts";
import { DenoKvAdapter } from "./grammy_kv.ts";
import {
  change,
  changesOf,
  copyOf,
  read,
  sessionOfSize,
  type Shaped,
  sizeLabel,
} from "./shapes.ts";
import { BOT_INFO, type MessageUpdate, scatteredUserId } from "./updates.ts";

/** Where sessions live: nowhere (the framework's floor), memory, a Deno KV file or Redis. */
export type Store = "none" | "memory" | "kv" | "redis";

/** What the handler does with the session. */
export type Mode = "change" | "read" | "lazy";

/** One benchmarked configuration. */
export interface Spec {
  framework: "gramio" | "grammy";
  store: Store;
  /** GramIO on Redis: GET and SET written by hand in a middleware, no plugin. */
  byHand?: boolean;
  mode: Mode;
  /**
   * Every user's session is stored before the bot runs, through the storage's
   * own write (read-only specs always are): a store that already holds many
   * sessions without a million updates to fill it.
   */
  seeded?: boolean;
  /** Session size (V8-serialized bytes). */
  bytes: number;
  users: number;
  /** The Deno KV file (store "kv"). */
  kvPath?: string;
  /** The Redis URL (store "redis"). */
  redisUrl?: string;
}

/** A bot built from a spec. */
export interface Variant {
  readonly label: string;
  /** Handles one update, resolving when its middleware chain is done. */
  handle(update: MessageUpdate): Promise<unknown>;
  /** How many times the handler ran (checked against the updates sent). */
  handled(): number;
  /** Errors the framework reported; must stay empty. */
  readonly errors: unknown[];
  /** The changes stored over all users, to check that every change was saved. */
  storedChanges(): Promise<number>;
  /** Releases databases and connections (their data included). */
  close(): Promise<void>;
}

/** Read-only handlers add what they read here, so that the read cannot be optimized away. */
export let readSink = 0;

/** A short label for a spec, used in tables and errors. */
export function labelOf(spec: Spec): string {
  const who = spec.framework === "gramio"
    ? spec.store === "none"
      ? "GramIO"
      : spec.byHand
      ? "GramIO + GET/SET by hand"
      : "GramIO + session"
    : spec.store === "none"
    ? "grammY"
    : "grammY + session()";
  if (spec.store === "none") return `${who}, no session`;
  return `${who}, ${spec.store === "kv" ? "Deno KV file" : spec.store}, ${
    sizeLabel(spec.bytes)
  }, ${spec.mode}, ${spec.users} users`;
}

/** Builds the bot of `spec`; `seen`, when given, counts its storage calls. */
export async function createVariant(spec: Spec, seen?: Calls): Promise<Variant> {
  const template = sessionOfSize(spec.bytes);
  const initial = (): Shaped => copyOf(template);
  const seeded = spec.seeded === true || spec.mode === "read";
  const keys = Array.from({ length: spec.users }, (_, i) => String(scatteredUserId(i, spec.users)));
  const total = async (readOne: (key: string) => Promise<unknown> | unknown) => {
    let sum = 0;
    for (const key of keys) sum += changesOf((await readOne(key)) as Shaped | undefined, template);
    return sum;
  };
  const count = <T extends object>(storage: T): T => seen ? countCalls(storage, seen) : storage;
  let closeStore = (): Promise<void> => Promise.resolve();
  let storedChanges = (): Promise<number> => Promise.resolve(0);

  if (spec.framework === "grammy") {
    let storage: StorageAdapter<Shaped> | undefined;
    if (spec.store === "memory") storage = new MemorySessionStorage<Shaped>();
    if (spec.store === "kv") {
      const kv = await Deno.openKv(needed(spec.kvPath, "kvPath"));
      storage = new DenoKvAdapter<Shaped>(kv);
      closeStore = () => Promise.resolve(kv.close());
    }
    if (storage) {
      if (seeded) await seed(keys, (key) => storage.write(key, initial()));
      storedChanges = () => total((key) => storage.read(key));
      count(storage);
    }
    return withClose(grammyVariant(spec, initial, storage), closeStore, storedChanges);
  }

  if (spec.store === "none") {
    return withClose(gramioVariant(spec, (bot) => bot), closeStore, storedChanges);
  }
  if (spec.store === "redis" && spec.byHand) {
    const client = await openRedis(needed(spec.redisUrl, "redisUrl"));
    const prefix = `gramio-session-bench:${crypto.randomUUID()}:`;
    const variant = gramioVariant(spec, (bot) => getSetByHand(bot, client, prefix, initial, seen));
    const redisKeys = keys.map((key) => prefix + key);
    return withClose(
      variant,
      async () => {
        for (let i = 0; i < redisKeys.length; i += 500) {
          await client.del(...redisKeys.slice(i, i + 500));
        }
        await client.quit();
      },
      () =>
        total(async (key) => {
          const raw = await client.get(prefix + key);
          return raw === null ? undefined : parse(raw);
        }),
    );
  }

  let storage: Storage;
  if (spec.store === "memory") storage = inMemoryStorage();
  else if (spec.store === "kv") {
    const kv = await Deno.openKv(needed(spec.kvPath, "kvPath"));
    storage = denoKvStorage(kv);
    closeStore = () => Promise.resolve(kv.close());
  } else {
    const client = await openRedis(needed(spec.redisUrl, "redisUrl"));
    const redis = redisStorage(client, { prefix: `gramio-session-bench:${crypto.randomUUID()}:` });
    storage = redis;
    closeStore = async () => {
      for await (const key of redis.keys()) await redis.delete(key);
      await client.quit();
    };
  }
  if (seeded) await seed(keys, (key) => storage.set(key, initial()));
  storedChanges = () => total((key) => storage.get(key));
  count(storage);
  const variant = gramioVariant(spec, (bot) => {
    if (spec.mode === "lazy") {
      return bot.extend(session({ storage, initial, lazy: true }));
    }
    return bot.extend(session({ storage, initial })).on("message", (ctx, next) => {
      if (spec.mode === "change") change(ctx.session);
      else readSink += read(ctx.session);
      return next();
    });
  });
  return withClose(variant, closeStore, storedChanges);
}

function needed<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`this variant needs ${name}`);
  return value;
}

/** Writes every key's session, awaiting only what returns a promise (a million sync writes stay fast). */
async function seed(keys: readonly string[], write: (key: string) => unknown): Promise<void> {
  for (const key of keys) {
    const written = write(key);
    if (written instanceof Promise) await written;
  }
}

function withClose(
  variant: Omit<Variant, "close" | "storedChanges">,
  close: () => Promise<void>,
  storedChanges: () => Promise<number>,
): Variant {
  return { ...variant, close, storedChanges };
}

/** Opens an ioredis client that fails fast instead of retrying forever. */
export async function openRedis(url: string): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  await client.connect();
  return client;
}

// ---------------------------------------------------------------- GramIO --

// deno-lint-ignore no-explicit-any
type AnyBot = Bot<any, any>;

/**
 * A GramIO bot: `build` adds the session (and its handler) to the bot; the
 * last handler counts handled updates.
 */
function gramioVariant(
  spec: Spec,
  build: (bot: Bot) => AnyBot,
): Omit<Variant, "close" | "storedChanges"> {
  const errors: unknown[] = [];
  let handled = 0;
  const bot = build(new Bot("1:bench", { info: BOT_INFO }))
    .on("message", () => {
      handled++;
    })
    .onError(({ error }) => {
      errors.push(error);
    });
  return {
    label: labelOf(spec),
    handle: (update) => bot.updates.handleUpdate(update as unknown as TelegramUpdate),
    handled: () => handled,
    errors,
  };
}

/**
 * What a GramIO user writes without a session plugin: a middleware that GETs
 * the user's session, parses it (devalue, as Dates, Maps and Sets must
 * survive), runs the handler and SETs it back.
 */
function getSetByHand(
  bot: Bot,
  client: Redis,
  prefix: string,
  initial: () => Shaped,
  seen?: Calls,
): AnyBot {
  return bot
    .use(async (ctx, next) => {
      const holder = ctx as unknown as { senderId: number; session: Shaped };
      const key = prefix + holder.senderId;
      if (seen) seen.reads++;
      const raw = await client.get(key);
      holder.session = raw === null ? initial() : parse(raw);
      await next();
      if (seen) seen.writes++;
      await client.set(key, stringify(holder.session));
    })
    .on("message", (ctx, next) => {
      change((ctx as unknown as { session: Shaped }).session);
      return next();
    });
}

// ---------------------------------------------------------------- grammY --

type GrammyCtx = GrammyContext & SessionFlavor<Shaped>;

function grammyVariant(
  spec: Spec,
  initial: () => Shaped,
  storage: StorageAdapter<Shaped> | undefined,
): Omit<Variant, "close" | "storedChanges"> {
  const errors: unknown[] = [];
  let handled = 0;
  const bot = new GrammyBot<GrammyCtx>("1:bench", { botInfo: BOT_INFO });
  bot.catch((error) => {
    errors.push(error);
  });
  if (storage) {
    if (spec.mode === "lazy") throw new Error("grammY's lazy sessions are not benchmarked");
    bot.use(grammySession({ initial, storage }));
    bot.on("message", (ctx) => {
      if (spec.mode === "change") change(ctx.session);
      else readSink += read(ctx.session);
      handled++;
    });
  } else {
    bot.on("message", () => {
      handled++;
    });
  }
  return {
    label: labelOf(spec),
    handle: (update) =>
      bot.handleUpdate(update as unknown as Parameters<typeof bot.handleUpdate>[0]),
    handled: () => handled,
    errors,
  };
}
