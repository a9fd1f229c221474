/**
 * The `session()` plugin: resolves the session key of each update, puts the
 * session on the context, and saves it when the handlers are done.
 *
 * @module
 */

import { contextsMappings, type DeriveDefinitions, Plugin } from "gramio";
import { SessionError } from "./errors.ts";
import { log } from "./log.ts";
import { perUser, type SessionContext } from "./keys.ts";
import { createRuntime, type SessionOptions, type SessionValue } from "./options.ts";
import { SessionState } from "./session_state.ts";
import { runInUpdate } from "./update_scope.ts";

/** The GramIO plugin `session()` returns: it adds `ctx[Key]` to every update. */
export type SessionPlugin<Key extends string, Value> = Plugin<
  // deno-lint-ignore ban-types
  {},
  DeriveDefinitions & { global: { [K in Key]: Value } }
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
): SessionPlugin<Key, SessionValue<Data, Lazy>> {
  const property: string = options.key ?? "session";
  assertFreeProperty(property);
  const runtime = createRuntime(options);
  const getSessionKey = options.getSessionKey ?? perUser;
  const lazy = options.lazy === true;
  // Saves in flight, for bot.stop(). A count, not a Set of promises: adding
  // and removing one entry per update makes V8 reallocate the Set's table.
  let saving = 0;
  let drained: (() => void) | undefined;

  // Sessions of the updates in flight, removed when each update's middleware
  // returns. Not a WeakMap: entries keyed by short-lived contexts are costly
  // for V8's garbage collector, all the more as the state references the
  // context (2-4 us per update, see bench/hot_path.ts).
  const stateOf = new Map<object, SessionState>();
  const afterUpdate = (): SessionError =>
    new SessionError(
      `ctx.${property} was used after its update had finished (a handler started work it did not await): ` +
        "nothing read or changed then could be saved. Await that work in the handler.",
    );
  const accessor: PropertyDescriptor = {
    configurable: true,
    enumerable: false,
    get(this: object) {
      const state = stateOf.get(this);
      if (lazy) return state ? state.load() : Promise.reject(afterUpdate());
      if (!state) throw afterUpdate();
      return state.data;
    },
    set(this: object, value: unknown) {
      if (lazy) {
        throw new TypeError(
          `ctx.${property} is lazy (a Promise): await it and change its fields instead of assigning it.`,
        );
      }
      const state = stateOf.get(this);
      if (!state) throw afterUpdate();
      state.replace(value);
    },
  };

  const plugin = new Plugin("@gramio/session");
  // GramIO skips a second plugin with the same name and seed: the seed makes
  // two sessions with different keys (per-user and per-chat) both run.
  (plugin._.composer["~"] as { seed: unknown }).seed = property;

  plugin.use(async (context, next) => {
    const ctx = context as unknown as SessionContext;
    if (property in ctx) {
      throw new SessionError(
        `session({ key: "${property}" }): this ${
          updateTypeOf(ctx)
        } context already has a "${property}" property ` +
          "(another plugin or a derive set it). Pick another key option.",
      );
    }
    const resolved = getSessionKey(ctx);
    const sessionKey = normalizeKey(
      resolved instanceof Promise ? await resolved : resolved,
    );
    if (sessionKey === undefined) {
      if (log.enabled) {
        log(
          "%s no key for this %s update: no session",
          property,
          updateTypeOf(ctx),
        );
      }
      Object.defineProperty(ctx, property, noSessionAccessor(property, ctx));
      return next();
    }
    if (log.enabled) {
      log("%s key=%s %s update", property, sessionKey, updateTypeOf(ctx));
    }

    const state = new SessionState(runtime, sessionKey, ctx);
    stateOf.set(ctx, state);
    Object.defineProperty(ctx, property, accessor);
    try {
      if (!lazy) await state.load();
      await runInUpdate(ctx, next);
    } catch (error) {
      state.close();
      await state.abort();
      throw error;
    } finally {
      stateOf.delete(ctx);
    }
    state.close();
    if (!state.touched) {
      if (log.enabled) {
        log("%s key=%s skip (lazy, untouched)", property, sessionKey);
      }
      return;
    }
    saving++;
    try {
      await state.commit();
    } finally {
      if (--saving === 0) drained?.();
    }
  });

  // bot.stop() waits for sessions being saved, so none is cut off.
  plugin.onStop(async () => {
    if (saving > 0) await new Promise<void>((resolve) => (drained = resolve));
    drained = undefined;
  });

  return plugin as unknown as SessionPlugin<Key, SessionValue<Data, Lazy>>;
}

function normalizeKey(key: unknown): string | undefined {
  if (typeof key === "number") {
    return Number.isFinite(key) ? String(key) : undefined;
  }
  if (typeof key === "string" && key !== "") return key;
  return undefined;
}

/** Refuses a key that GramIO contexts already use (`chat`, `from`, `send`...). */
function assertFreeProperty(property: string): void {
  for (const Context of Object.values(contextsMappings)) {
    if (property in Context.prototype) {
      throw new TypeError(
        `session({ key: "${property}" }): "${property}" is already a property of GramIO's ${Context.name}; ` +
          `the session would hide it. Pick another key, e.g. "session" or "${property}Session".`,
      );
    }
  }
}

function noSessionAccessor(
  property: string,
  ctx: SessionContext,
): PropertyDescriptor {
  const fail = (): never => {
    throw new SessionError(
      `ctx.${property} is not available for this ${
        updateTypeOf(ctx)
      } update: getSessionKey returned no key ` +
        "(by default the key is the sender's id, and channel posts and some other updates have no sender). " +
        `Check for it before touching ctx.${property}, or pass a getSessionKey option that covers these updates (e.g. perChat).`,
    );
  };
  return { configurable: true, enumerable: false, get: fail, set: fail };
}

function updateTypeOf(ctx: object): string {
  return String((ctx as { updateType?: string }).updateType ?? "update");
}
