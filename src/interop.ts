/**
 * Living with GramIO plugins that change how an update flows through the
 * chain. Two kinds matter to a session that is locked from the read to the
 * save:
 *
 * - Plugins whose handlers wait for a later update of the same user
 *   (`@gramio/prompt`: `await ctx.prompt(...)`, `ctx.wait()`,
 *   `ctx.waitWithAction()`). Holding the lock across that wait would keep the
 *   answer from ever reaching the plugin. The session lets go of the lock
 *   while such a call is pending and takes it again before the handler goes
 *   on; its save then checks for saves made meanwhile.
 * - Plugins that go on with an update later, from a timer, after the
 *   middleware before them has returned (`@gramio/media-group`). After
 *   `session()` that cannot work (the session was saved and closed when the
 *   chain stopped), so it is refused with the order to use. Before
 *   `session()`, the session part of such an update runs outside GramIO's
 *   error handling, so its errors are reported to `bot.onError` by the
 *   plugin instead of becoming unhandled rejections.
 *
 * Plugins are recognised by name, in the order the bot's middleware chain
 * has them (`bot.updates.composer.inspect()`, else `bot.dependencies`), once
 * per bot. Bots without such plugins pay one comparison per update.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import { isThenable } from "./thenable.ts";

/** Plugins whose handlers wait for a later update of the same user. */
const WAITING_PLUGINS = new Set(["@gramio/prompt"]);
/** The context methods they add: each returns a promise that a later update settles. */
const WAIT_METHODS = ["prompt", "wait", "waitWithAction"];
/** Plugins that go on with an update later, from a timer. */
const RESUMING_PLUGINS = new Set(["@gramio/media-group"]);
const SESSION_PLUGIN = "@gramio/session";

/** What a bot's other plugins mean for one session plugin. */
export interface Neighbours {
  /** A plugin whose handlers wait for a later update is registered (either order). */
  readonly waiting: boolean;
  /** A plugin that goes on with updates later is registered before this session. */
  readonly resumingBefore: boolean;
  /** Such a plugin is registered after this session: every update fails with this. */
  readonly refusal: (() => SessionError) | undefined;
}

/** A bot with none of these plugins (or no GramIO bot at all). */
export const NO_NEIGHBOURS: Neighbours = {
  waiting: false,
  resumingBefore: false,
  refusal: undefined,
};

interface ChainEntry {
  plugin?: string;
  name?: string;
}

interface InspectableBot {
  dependencies?: unknown;
  updates?: { composer?: { inspect?(): ChainEntry[] } };
}

/**
 * Finds the plugins around the session middleware named `middleware` in
 * `bot`'s chain. `property` names the session in the refusal.
 */
export function neighboursOf(bot: unknown, middleware: string, property: string): Neighbours {
  const order = pluginOrder(bot, middleware);
  if (order === undefined) return NO_NEIGHBOURS;
  const { plugins, own } = order;
  const waiting = plugins.some((name) => WAITING_PLUGINS.has(name));
  const resumingAfter = plugins.slice(own + 1).find((name) => RESUMING_PLUGINS.has(name));
  const resumingBefore = plugins.slice(0, own).some((name) => RESUMING_PLUGINS.has(name));
  if (!waiting && !resumingBefore && resumingAfter === undefined) return NO_NEIGHBOURS;
  return {
    waiting,
    resumingBefore,
    refusal: resumingAfter === undefined ? undefined : () =>
      new SessionError(
        `${resumingAfter} is registered after session({ key: "${property}" }): it goes on with album ` +
          "messages from a timer after session() has saved and closed them, so album handlers would get no " +
          `session. Register it before the session: bot.extend(mediaGroup()).extend(session(...)).`,
      ),
  };
}

/** The plugin of each middleware in chain order, and the index of this session's own. */
function pluginOrder(
  bot: unknown,
  middleware: string,
): { plugins: string[]; own: number } | undefined {
  if (typeof bot !== "object" || bot === null) return undefined;
  const { updates, dependencies } = bot as InspectableBot;
  const chain = typeof updates?.composer?.inspect === "function"
    ? updates.composer.inspect()
    : undefined;
  if (Array.isArray(chain)) {
    const own = chain.findIndex((entry) =>
      entry.plugin === SESSION_PLUGIN && entry.name === middleware
    );
    if (own !== -1) return { plugins: chain.map((entry) => String(entry.plugin ?? "")), own };
  }
  // Older GramIO: plugin names in extend order; this session is taken to be the first.
  if (!Array.isArray(dependencies)) return undefined;
  const plugins = dependencies.map(String);
  const own = plugins.indexOf(SESSION_PLUGIN);
  return own === -1 ? undefined : { plugins, own };
}

/** A session that can let go of its lock while its handler waits for a later update. */
export interface Parkable {
  /** Saves what changed so far and lets go of the lock; `false` when it held none. */
  park(): boolean | Promise<boolean>;
  /** Takes the lock again. */
  resume(): void | Promise<void>;
}

const WRAPPED = Symbol("@gramio/session:parks-while-waiting");
const sessionsOf = new WeakMap<object, Parkable[]>();

/**
 * Makes the wait methods of `ctx` (set by a waiting plugin before or after
 * this call) let go of the session's lock while the wait is pending.
 */
export function parkWhileWaiting(ctx: object, session: Parkable): void {
  const sessions = sessionsOf.get(ctx);
  if (sessions !== undefined) {
    sessions.push(session); // a second session plugin on the same update
    return;
  }
  const all = [session];
  sessionsOf.set(ctx, all);
  for (const name of WAIT_METHODS) {
    const own = Object.getOwnPropertyDescriptor(ctx, name);
    if (own === undefined) {
      // The plugin comes later in the chain: its derive assigns the method
      // (Object.assign), which this setter turns into the wrapped method.
      Object.defineProperty(ctx, name, {
        configurable: true,
        enumerable: false,
        get: () => undefined,
        set(this: object, value: unknown) {
          Object.defineProperty(this, name, {
            value: wrapWait(value, all),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        },
      });
    } else if ("value" in own && own.writable) {
      (ctx as Record<string, unknown>)[name] = wrapWait(own.value, all); // the plugin came first
    }
  }
}

function wrapWait(method: unknown, sessions: Parkable[]): unknown {
  if (typeof method !== "function" || WRAPPED in method) return method;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const result = method.apply(this, args);
    return isThenable(result) ? whileParked(result, sessions) : result;
  };
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  return wrapped;
}

/** Waits for `answer` with the sessions' locks let go, and takes them again before returning it. */
async function whileParked<T>(answer: PromiseLike<T>, sessions: Parkable[]): Promise<T> {
  const parked: Parkable[] = [];
  let failure: { error: unknown } | undefined;
  for (const session of sessions) {
    try {
      if (await session.park()) parked.push(session);
    } catch (error) {
      parked.push(session); // it let go all the same
      failure ??= { error };
    }
  }
  if (failure) {
    await resumeAll(parked);
    throw failure.error;
  }
  try {
    return await answer;
  } finally {
    await resumeAll(parked);
  }
}
async function resumeAll(sessions: Parkable[]): Promise<void> {
  for (const session of sessions) {
    const resumed = session.resume();
    if (resumed !== undefined) await resumed;
  }
}
