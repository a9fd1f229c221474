/**
 * The `session()` plugin: resolves the session key of each update, puts the
 * session on the context, and saves it when the handlers are done.
 *
 * @module
 */

import { contextsMappings, type DeriveDefinitions, Plugin } from "gramio";
import { log } from "./log.ts";
import { BUILT_IN_STRATEGIES, hasMissingPart, perUser, type SessionContext } from "./keys.ts";
import {
  createRuntime,
  type SessionAssignment,
  type SessionOptions,
  type SessionProperty,
  type SessionValue,
} from "./options.ts";
import { ContextProperty, type SessionSlot } from "./context_property.ts";
import { type Neighbours, neighboursOf, NO_NEIGHBOURS, parkWhileWaiting } from "./interop.ts";
import { duplicateSessionError, tagHook } from "./duplicate_session.ts";
import { SessionState } from "./session_state.ts";
import { sessionKeyOnly } from "./shared_storage.ts";
import {
  NoSession,
  propertyTaken,
  reportOutsideChain,
  updateTypeOf,
} from "./session_unavailable.ts";
import { isThenable } from "./thenable.ts";
import { runInUpdate } from "./update_scope.ts";

/**
 * The GramIO plugin `session()` returns: it adds `ctx[Key]` to every update,
 * read as `Value` and, under the default key `"session"`, assigned as `Assign`
 * (see {@linkcode SessionProperty}).
 */
export type SessionPlugin<Key extends string, Value, Assign = Value> = Plugin<
  // deno-lint-ignore ban-types
  {},
  DeriveDefinitions & { global: SessionProperty<Key, Value, Assign> }
>;

/**
 * The session plugin: `ctx.session` (or `ctx[key]`) holds per-user data that
 * survives restarts.
 *
 * @example Counter
 * ```ts
 * import { Bot } from "gramio";
 * import { session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN")
 *   .extend(session({ key: "sessionKey", initial: () => ({ apple: 1 }) }))
 *   .on("message", (context) => {
 *     return context.send(`apple count is ${++context.sessionKey.apple}`);
 *   });
 * ```
 *
 * @example Lazy: no storage call for updates that do not use the session
 * ```ts
 * import { Bot } from "gramio";
 * import { session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN")
 *   .extend(session({ lazy: true, initial: () => ({ count: 0 }) }))
 *   .on("message", async (context) => {
 *     const s = await context.session;
 *     s.count++;
 *   });
 * ```
 */
export function session<
  Data extends object = Record<string, unknown>,
  Key extends string = "session",
  Lazy extends boolean = false,
>(
  options: SessionOptions<Data, Key, Lazy> = {},
): SessionPlugin<Key, SessionValue<Data, Lazy>, SessionAssignment<Data>> {
  const property: string = options.key ?? "session";
  const contextProperty = new ContextProperty(property);
  assertFreeProperty(contextProperty, property);
  const runtime = createRuntime(options);
  const getSessionKey = options.getSessionKey ?? perUser;
  // Custom keys are checked for interpolated missing values ("chat:undefined").
  const checkKeys = !BUILT_IN_STRATEGIES.has(getSessionKey);
  let warnedUnsafe = false;
  // Saves in flight, for bot.stop(). A count, not a Set of promises: adding
  // and removing one entry per update makes V8 reallocate the Set's table.
  let saving = 0;
  /** Set while a bot.stop() waits: called when the last save in flight ends. */
  let drained: (() => void) | undefined;
  /** What every concurrent bot.stop() waits for. */
  let idle: Promise<void> | undefined;

  const bind = (ctx: SessionContext, slot: SessionSlot): void => {
    if (!contextProperty.bind(ctx, slot)) throw propertyTaken(property, ctx);
  };

  const plugin = new Plugin("@gramio/session");
  // GramIO skips a second plugin with the same name and seed: the seed makes
  // two sessions with different keys (per-user and per-chat) both run.
  (plugin._.composer["~"] as { seed: unknown }).seed = property;

  // Other plugins of the bot that change how updates flow (see interop.ts),
  // found on the first update of each bot.
  const middlewareName = `session(${property})`;
  let lastBot: unknown;
  let neighbours: Neighbours = NO_NEIGHBOURS;

  const handle = async (ctx: SessionContext, next: () => Promise<unknown>, waiting: boolean) => {
    const resolved = getSessionKey(ctx);
    const returned = isThenable(resolved) ? await resolved : resolved;
    let sessionKey = normalizeKey(returned);
    let unsafeKey: string | undefined;
    if (checkKeys && sessionKey !== undefined && hasMissingPart(sessionKey)) {
      unsafeKey = sessionKey;
      sessionKey = undefined;
    }
    if (sessionKey === undefined) {
      if (log.enabled) {
        log(
          "%s no key for this %s update: no session",
          property,
          updateTypeOf(ctx),
        );
      }
      const refusal = new NoSession(ctx, runtime.lazy, property, unsafeKey, returned);
      if (unsafeKey !== undefined && !warnedUnsafe) {
        warnedUnsafe = true;
        console.warn(`@gramio/session: ${refusal.message()}`);
      }
      bind(ctx, refusal);
      try {
        return await next();
      } finally {
        contextProperty.unbind(ctx, refusal);
      }
    }
    if (log.enabled) {
      log("%s key=%s %s update", property, sessionKey, updateTypeOf(ctx));
    }

    const state = new SessionState(runtime, sessionKey, ctx);
    bind(ctx, state);
    if (waiting) parkWhileWaiting(ctx, state);
    try {
      if (!runtime.lazy) {
        const opened = state.open();
        if (opened instanceof Promise) await opened;
      }
      await runInUpdate(ctx, next);
    } catch (error) {
      state.close(); // before the wait: a lazy load starting now would lock for nobody
      await state.abort();
      throw error;
    } finally {
      // From here on, ctx[property] refuses to be used: nothing could be saved.
      contextProperty.unbind(ctx, state);
      state.close();
    }
    if (!state.touched) {
      if (log.enabled) {
        log("%s key=%s skip (lazy, untouched)", property, sessionKey);
      }
      return;
    }
    saving++;
    try {
      const committed = state.commit();
      if (committed instanceof Promise) await committed;
    } finally {
      if (--saving === 0) drained?.();
    }
  };

  /** An update of a bot with plugins that wait for later updates or go on with them later. */
  const withNeighbours = async (ctx: SessionContext, next: () => Promise<unknown>) => {
    const { refusal, resumingBefore, waiting } = neighbours;
    if (refusal) throw refusal();
    // Album messages reach us from the collecting plugin's timer, outside
    // GramIO's error handling: a throw would be an unhandled rejection.
    const detached = resumingBefore &&
      (ctx as { mediaGroupId?: unknown }).mediaGroupId !== undefined;
    try {
      return await handle(ctx, next, waiting);
    } catch (error) {
      if (!detached) throw error;
      reportOutsideChain(ctx, error);
    }
  };

  const middleware = (context: unknown, next: () => Promise<unknown>): Promise<unknown> => {
    const ctx = context as SessionContext;
    const bot = (ctx as { bot?: unknown }).bot;
    if (bot !== lastBot) {
      // A second session() with this key on the bot would be skipped by GramIO.
      const duplicate = duplicateSessionError(bot, property, plugin);
      if (duplicate) return Promise.reject(duplicate);
      neighbours = neighboursOf(bot, middlewareName, property);
      lastBot = bot;
    }
    return neighbours === NO_NEIGHBOURS ? handle(ctx, next, false) : withNeighbours(ctx, next);
  };
  // GramIO's inspect() lists middleware by name: how interop.ts finds this one.
  Object.defineProperty(middleware, "name", { value: middlewareName });
  plugin.use(middleware);

  // bot.stop() waits for sessions being saved, so none is cut off, but not
  // forever. GramIO's stop(timeout) first waits (up to `timeout`) for the
  // updates in its queue (polling, webhooks without shouldWait), their saves
  // included, and only then runs this hook, without the timeout. Queued
  // updates still running mean that time is up. Otherwise the saves left are
  // of updates given to handleUpdate() directly: wait at most storageTimeout.
  // Tagged: on each bot, the hook shows which session() plugins it has (see duplicate_session.ts).
  plugin.onStop(tagHook(
    async ({ bot }: { bot: object }) => {
      if (saving === 0) return;
      if (queueBusy(bot)) {
        if (log.enabled) {
          log("%s bot.stop(): its timeout is over; not waiting for %d save(s)", property, saving);
        }
        return;
      }
      idle ??= new Promise<void>((resolve) => {
        drained = () => {
          idle = drained = undefined;
          resolve();
        };
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, runtime.storageTimeout);
      });
      await Promise.race([idle, timeout]);
      clearTimeout(timer);
    },
    property,
    plugin,
  ));

  return plugin as unknown as SessionPlugin<
    Key,
    SessionValue<Data, Lazy>,
    SessionAssignment<Data>
  >;
}

/** Whether GramIO's update queue still has updates to run: bot.stop()'s wait for them timed out. */
function queueBusy(bot: object): boolean {
  const queue = (bot as { updates?: { queue?: { pending?: number; queued?: number } } }).updates
    ?.queue;
  return (queue?.pending ?? 0) > 0 || (queue?.queued ?? 0) > 0;
}

function normalizeKey(key: unknown): string | undefined {
  if (typeof key === "number") {
    return Number.isFinite(key) ? String(key) : undefined;
  }
  if (typeof key === "string" && key !== "") return sessionKeyOnly(key, "getSessionKey");
  return undefined;
}

/**
 * Fields GramIO 0.10 sets on every context instance (so no prototype shows
 * them): `Context` has the first four, each update's context `payload`.
 */
const GRAMIO_INSTANCE_FIELDS = new Set(["bot", "update", "updateId", "updateType", "payload"]);

/** Refuses a key that GramIO contexts already use (`chat`, `from`, `send`, `update`...). */
function assertFreeProperty(contextProperty: ContextProperty, property: string): void {
  for (const Context of Object.values(contextsMappings)) {
    if (GRAMIO_INSTANCE_FIELDS.has(property) || contextProperty.takenOn(Context.prototype)) {
      throw new TypeError(
        `session({ key: "${property}" }): "${property}" is already a property of GramIO's ${Context.name}; ` +
          `the session would hide it. Pick another key, e.g. "session" or "${property}Session".`,
      );
    }
  }
}
