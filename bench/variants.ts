/**
 * The benchmarked bots. Each variant handles one message update at a time
 * through its framework's own entry point (`bot.updates.handleUpdate` for
 * GramIO, `bot.handleUpdate` for grammY and Telegraf), with no network: every
 * bot is given its own user so that none calls getMe, and no handler calls
 * the Bot API.
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
} from "grammy";
import {
  type Context as TelegrafContext,
  MemorySessionStore,
  session as telegrafSession,
  Telegraf,
} from "telegraf";
import { denoKvStorage, inMemoryStorage, type KvKeyPart, session, type Storage } from "../mod.ts";
import {
  type Calls,
  countedGrammyStorage,
  countedStorage,
  countedTelegrafStore,
} from "./counting.ts";
import { BOT_INFO, type MessageUpdate, userId, USERS } from "./updates.ts";

/** One benchmarked configuration. */
export interface Variant {
  /** Short id used in the table. */
  readonly id: string;
  readonly label: string;
  /** Handles one update, resolving when its middleware chain is done. */
  handle(update: MessageUpdate): Promise<unknown>;
  /** How many times the handler ran (checked against the updates sent). */
  readonly handled: () => number;
  /** Errors the framework reported; must stay empty. */
  readonly errors: unknown[];
  /** The sum of the stored counters of all users, to check that every increment was saved. */
  storedTotal?(): Promise<number>;
}

/** The session data of every benchmark: a counter. */
export interface Counter {
  count: number;
}

const initial = (): Counter => ({ count: 0 });
/** Read-only handlers add the counter here so that the read cannot be optimized away. */
export let readSink = 0;

// ---------------------------------------------------------------- GramIO --

function gramioBot(errors: unknown[]): Bot {
  const bot = new Bot("1:bench", { info: BOT_INFO });
  bot.onError(({ error }) => {
    errors.push(error);
  });
  return bot;
}

function gramioVariant(
  id: string,
  label: string,
  build: (bot: Bot, onHandled: () => void) => Bot,
): Variant {
  const errors: unknown[] = [];
  let handled = 0;
  const bot = build(gramioBot(errors), () => handled++);
  return {
    id,
    label,
    handle: (update) => bot.updates.handleUpdate(update as unknown as TelegramUpdate),
    handled: () => handled,
    errors,
  };
}

/** GramIO with no session: the floor. */
export function gramioFloor(id = "gramio"): Variant {
  return gramioVariant(
    id,
    "GramIO, no session",
    (bot, done) => bot.on("message", () => done()),
  );
}

/** Our plugin, eager, on `storage`; the handler increments the counter. */
export function gramioEager(
  storage: Storage,
  id = "mem-eager",
  label = "GramIO + session, in-memory, eager, increments",
): Variant {
  const variant = gramioVariant(
    id,
    label,
    (bot, done) =>
      bot.extend(session({ storage, initial })).on("message", (ctx) => {
        ctx.session.count++;
        done();
      }),
  );
  return {
    ...variant,
    async storedTotal() {
      let total = 0;
      for (let i = 0; i < USERS; i++) {
        total += ((await storage.get(String(userId(i)))) as Counter | undefined)?.count ?? 0;
      }
      return total;
    },
  };
}

/** Our plugin, lazy; the handler never touches the session. */
export function gramioLazyUntouched(storage: Storage): Variant {
  return gramioVariant(
    "mem-lazy",
    "GramIO + session, in-memory, lazy, untouched",
    (bot, done) =>
      bot.extend(session({ storage, lazy: true, initial })).on(
        "message",
        () => done(),
      ),
  );
}

/** Our plugin, eager; the handler only reads the session. */
export function gramioReadOnly(storage: Storage): Variant {
  return gramioVariant(
    "mem-read",
    "GramIO + session, in-memory, eager, read-only",
    (bot, done) =>
      bot.extend(session({ storage, initial })).on("message", (ctx) => {
        readSink += ctx.session.count;
        done();
      }),
  );
}

/** The key our KV storage uses for a user, under `prefix`. */
export function kvSessionKey(
  prefix: readonly KvKeyPart[],
  update: MessageUpdate,
): KvKeyPart[] {
  return [...prefix, String(update.message.from.id)];
}

/** Our plugin on Deno KV (`denoKvStorage`), eager, increments. */
export function gramioKv(
  kv: Deno.Kv,
  prefix: readonly KvKeyPart[],
  seen?: Calls,
): Variant {
  const storage = denoKvStorage(kv, { prefix });
  const variant = gramioEager(
    seen ? countedStorage(storage, seen) : storage,
    "kv-eager",
    "GramIO + session, Deno KV file, eager, increments",
  );
  return { ...variant, storedTotal: () => kvTotal(kv, prefix) };
}

/** The sum of the counters stored under `prefix`. */
async function kvTotal(kv: Deno.Kv, prefix: readonly KvKeyPart[]): Promise<number> {
  let total = 0;
  for await (const entry of kv.list<Counter>({ prefix: [...prefix] })) {
    total += entry.value.count ?? 0;
  }
  return total;
}

/** Our in-memory storage, counted when `seen` is given. */
export function memoryStorage(seen?: Calls): Storage {
  const storage = inMemoryStorage();
  return seen ? countedStorage(storage, seen) : storage;
}

// ---------------------------------------------------------------- grammY --

type GrammyCtx = GrammyContext & SessionFlavor<Counter>;

function grammyVariant(
  id: string,
  label: string,
  withSession: boolean,
  seen?: Calls,
): Variant {
  const errors: unknown[] = [];
  let handled = 0;
  const bot = new GrammyBot<GrammyCtx>("1:bench", { botInfo: BOT_INFO });
  bot.catch((error) => {
    errors.push(error);
  });
  if (withSession) {
    const memory = new MemorySessionStorage<Counter>();
    bot.use(
      grammySession({
        initial,
        storage: seen ? countedGrammyStorage(memory, seen) : memory,
      }),
    );
    bot.on("message", (ctx) => {
      ctx.session.count++;
      handled++;
    });
  } else {
    bot.on("message", () => {
      handled++;
    });
  }
  return {
    id,
    label,
    handle: (update) =>
      bot.handleUpdate(
        update as unknown as Parameters<typeof bot.handleUpdate>[0],
      ),
    handled: () => handled,
    errors,
  };
}

/** grammY with no session. */
export function grammyFloor(): Variant {
  return grammyVariant("grammy", "grammY 1.46, no session", false);
}

/** grammY's session() on MemorySessionStorage; the handler increments. */
export function grammySessionVariant(seen?: Calls): Variant {
  return grammyVariant(
    "grammy-session",
    "grammY 1.46 + session(), memory, increments",
    true,
    seen,
  );
}

// -------------------------------------------------------------- Telegraf --

interface TelegrafCtx extends TelegrafContext {
  session: Counter;
}

function telegrafVariant(
  id: string,
  label: string,
  withSession: boolean,
  seen?: Calls,
): Variant {
  const errors: unknown[] = [];
  let handled = 0;
  const bot = new Telegraf<TelegrafCtx>("1:bench");
  bot.botInfo = BOT_INFO;
  bot.catch((error) => {
    errors.push(error);
  });
  if (withSession) {
    // Without `store`, session() makes its own MemorySessionStore: the default measured.
    const store = seen ? countedTelegrafStore(new MemorySessionStore<Counter>(), seen) : undefined;
    bot.use(
      telegrafSession({ defaultSession: initial, ...(store ? { store } : {}) }),
    );
    bot.on("message", (ctx) => {
      ctx.session.count++;
      handled++;
    });
  } else {
    bot.on("message", () => {
      handled++;
    });
  }
  return {
    id,
    label,
    handle: (update) =>
      bot.handleUpdate(
        update as unknown as Parameters<typeof bot.handleUpdate>[0],
      ),
    handled: () => handled,
    errors,
  };
}

/** Telegraf with no session. */
export function telegrafFloor(): Variant {
  return telegrafVariant("telegraf", "Telegraf 4.16, no session", false);
}

/** Telegraf's session() with its default in-memory store; the handler increments. */
export function telegrafSessionVariant(seen?: Calls): Variant {
  return telegrafVariant(
    "telegraf-session",
    "Telegraf 4.16 + session(), memory, increments",
    true,
    seen,
  );
}

// ----------------------------------------------------------------- raw KV --

/**
 * The physical floor of a KV session: for each update, `kv.get` then `kv.set`
 * of the same key shape and value the plugin stores, and nothing else.
 */
export function rawKv(
  kv: Deno.Kv,
  prefix: readonly KvKeyPart[],
  seen?: Calls,
): Variant {
  let handled = 0;
  return {
    id: "kv-raw",
    label: "raw kv.get + kv.set (no bot)",
    async handle(update) {
      const key = kvSessionKey(prefix, update);
      if (seen) seen.reads++;
      const entry = await kv.get<Counter>(key);
      if (seen) seen.writes++;
      await kv.set(key, { count: (entry.value?.count ?? 0) + 1 });
      handled++;
    },
    handled: () => handled,
    errors: [],
    storedTotal: () => kvTotal(kv, prefix),
  };
}

/**
 * What a user would write without a session plugin: GramIO, and in the
 * handler `kv.get` + `kv.set` of the user's counter. Separates GramIO's own
 * cost from the plugin's in the KV comparison.
 */
export function gramioRawKv(kv: Deno.Kv, prefix: readonly KvKeyPart[], seen?: Calls): Variant {
  const variant = gramioVariant(
    "kv-raw-gramio",
    "GramIO + kv.get/kv.set in the handler (no plugin)",
    (bot, done) =>
      bot.on("message", async (ctx) => {
        const key = [...prefix, String(ctx.senderId)];
        if (seen) seen.reads++;
        const entry = await kv.get<Counter>(key);
        if (seen) seen.writes++;
        await kv.set(key, { count: (entry.value?.count ?? 0) + 1 });
        done();
      }),
  );
  return { ...variant, storedTotal: () => kvTotal(kv, prefix) };
}

// --------------------------------------------------------------- registry --

/** Ids of the timed variants, in table order. */
export const VARIANT_IDS = [
  "gramio",
  "gramio-2",
  "mem-eager",
  "mem-lazy",
  "mem-read",
  "grammy",
  "grammy-session",
  "telegraf",
  "telegraf-session",
  "kv-eager",
  "kv-raw-gramio",
  "kv-raw",
] as const;

/** A timed variant's id. */
export type VariantId = typeof VARIANT_IDS[number];

/** The KV key prefixes of the plugin and of the raw loop: same shape, same length. */
export const KV_PREFIX: readonly KvKeyPart[] = ["gramio-session"];
/** See {@linkcode KV_PREFIX}. */
export const RAW_PREFIX: readonly KvKeyPart[] = ["gramio-sess-raw"];
/** See {@linkcode KV_PREFIX}. */
export const RAW_GRAMIO_PREFIX: readonly KvKeyPart[] = ["gramio-sess-han"];

/**
 * Builds a variant by id. `kv` is needed by the KV variants; `seen`, when
 * given, counts storage calls (counting pass only).
 */
export async function createVariant(id: VariantId, kv?: Deno.Kv, seen?: Calls): Promise<Variant> {
  switch (id) {
    case "gramio":
    case "gramio-2":
      return gramioFloor(id);
    case "mem-eager":
      return gramioEager(memoryStorage(seen));
    case "mem-lazy":
      return gramioLazyUntouched(memoryStorage(seen));
    case "mem-read": {
      // Read-only updates read an existing session, as in a live bot; seeded
      // before counting starts.
      const storage = inMemoryStorage();
      for (let i = 0; i < USERS; i++) await storage.set(String(userId(i)), { count: 1 });
      return gramioReadOnly(seen ? countedStorage(storage, seen) : storage);
    }
    case "kv-eager":
      return gramioKv(needKv(kv), KV_PREFIX, seen);
    case "kv-raw":
      return rawKv(needKv(kv), RAW_PREFIX, seen);
    case "kv-raw-gramio":
      return gramioRawKv(needKv(kv), RAW_GRAMIO_PREFIX, seen);
    case "grammy":
      return grammyFloor();
    case "grammy-session":
      return grammySessionVariant(seen);
    case "telegraf":
      return telegrafFloor();
    case "telegraf-session":
      return telegrafSessionVariant(seen);
  }
}

function needKv(kv: Deno.Kv | undefined): Deno.Kv {
  if (!kv) throw new Error("this variant needs a Deno KV database");
  return kv;
}
