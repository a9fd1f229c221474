/**
 * Every way `ctx.session` (or `ctx[key]`) is refused, in one place, each
 * with its cause and its fix:
 *
 * - the update has no session key ({@linkcode NoSession});
 * - the update is over: late use gets the session as the update left it and
 *   is reported ({@linkcode LateUse});
 * - the property belongs to something else on this context
 *   ({@linkcode propertyTaken}), or a derive after `session()` returned it
 *   ({@linkcode derivedSession});
 * - the session was replaced before it was loaded ({@linkcode notLoaded}).
 *
 * @module
 */

import type { SessionSlot } from "./context_property.ts";
import { SessionError } from "./errors.ts";
import { missingPartOf } from "./keys.ts";
import { isThenable } from "./thenable.ts";

/**
 * The property of an update that has no session key, or a key built from a
 * missing value (`"chat:undefined"`): any use explains why. Reading throws
 * (in lazy mode, returns a Promise rejected with it, as the property's type
 * promises); assigning throws.
 */
export class NoSession implements SessionSlot {
  constructor(
    readonly context: object,
    private readonly lazy: boolean,
    private readonly property: string,
    private readonly unsafeKey: string | undefined,
    /** What getSessionKey returned. */
    private readonly returned?: unknown,
  ) {}

  read(): unknown {
    if (this.lazy) return handledRejection(this.#refusal());
    throw this.#refusal();
  }

  write(): void {
    throw this.#refusal();
  }

  finished(): SessionSlot {
    return this;
  }

  /** Why there is no session, and what to do. */
  message(): string {
    const { property, unsafeKey, returned } = this;
    const update = updateTypeOf(this.context);
    if (unsafeKey === undefined && returned !== undefined && returned !== null) {
      return `ctx.${property} is not available for this ${update} update: getSessionKey returned ` +
        `${describeKey(returned)}, not a string or a number that can key a session. Return an id ` +
        `(ctx.senderId, not ctx.from), a non-empty string, or undefined for "no session".`;
    }
    if (unsafeKey !== undefined) {
      return `ctx.${property} is not available for this ${update} update: getSessionKey returned ` +
        `"${unsafeKey}", a key built from a missing value (${
          missingPartOf(unsafeKey)
        }), which every ` +
        `such update would share. Return undefined for "no session", or build the key with keyOf, ` +
        "which does that for you: getSessionKey: (ctx) => keyOf`chat:${ctx.chatId}`.";
    }
    return `ctx.${property} is not available for this ${update} update: getSessionKey returned no key ` +
      "(by default the key is the sender's id, and some updates, such as those about polls, have no sender). " +
      `Check for it before touching ctx.${property}, or pass a getSessionKey option that covers these updates (e.g. perChat).`;
  }

  #refusal(): SessionError {
    return new SessionError(this.message(), this.unsafeKey);
  }
}

/** What a lazy session that was never loaded offers late: a read that takes no lock and is never saved. */
export interface LateLook {
  lookAfterTheEnd(): Promise<object>;
}

/**
 * What the property is once its update is over. Late use (a handler's work
 * it did not await, or a chain a plugin continued later) must not throw: it
 * would run in a timer or a detached promise, where a throw takes the whole
 * process down. So it gets the session as the update left it (lazy: a
 * resolved Promise of it; never loaded: a read without a lock), nothing of it
 * is ever saved, and the first use is reported to `bot.onError` (or the
 * console) with the stack of the late use.
 */
export class LateUse implements SessionSlot {
  #reported = false;

  constructor(
    readonly context: object,
    private readonly lazy: boolean,
    private readonly property: string,
    private readonly key: string,
    private readonly data: object | undefined,
    private readonly source: LateLook | undefined,
  ) {}

  read(): unknown {
    this.#report();
    if (!this.lazy) return this.data;
    if (this.data !== undefined || this.source === undefined) return Promise.resolve(this.data);
    return this.source.lookAfterTheEnd().catch((error) => {
      reportOutsideChain(this.context, error);
      return {};
    });
  }

  write(): void {
    this.#report();
  }

  finished(): SessionSlot {
    return this;
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    const { property } = this;
    reportOutsideChain(
      this.context,
      new SessionError(
        `ctx.${property} was used after its update had finished: nothing read or changed then is saved ` +
          `(that use got the session as the update left it, and an assignment was ignored). Either a handler ` +
          `started work it did not await (await it), or a plugin registered after session() went on with the ` +
          `update later, as @gramio/media-group does (register that plugin before session()). ` +
          `The stack below shows the late use.`,
        this.key,
      ),
    );
  }
}

/** The context already has the property from another plugin or a derive. */
export function propertyTaken(property: string, ctx: object): SessionError {
  return new SessionError(
    `session({ key: "${property}" }): this ${
      updateTypeOf(ctx)
    } context already has a "${property}" property ` +
      "(another plugin or a derive set it). Pick another key option.",
  );
}

/** A derive (or decorate) after `session()` returned the property: GramIO would copy it over the session. */
export function derivedSession(name: string): SessionError {
  return new SessionError(
    `A derive (or decorate) after session() returned a "${name}" property: GramIO copies it onto the ` +
      `context, which would replace this update's session with it, unnoticed. Give the derived value ` +
      `another name, or change the session's fields inside the derive (ctx.${name}.x = ...) instead of ` +
      "returning it. (A derive before session() that sets it is refused too.)",
  );
}

/** The session was replaced before it was loaded. */
export function notLoaded(sessionKey: string): SessionError {
  return new SessionError("The session is not loaded yet.", sessionKey);
}

/**
 * Reports a problem found outside the update's own chain, where throwing
 * would reach nobody: to the bot's `onError` handlers when the context has a
 * GramIO bot, else to the console. Never throws.
 */
export function reportOutsideChain(context: object, error: unknown): void {
  const bot = (context as { bot?: { errorHandler?: (ctx: object, error: unknown) => unknown } })
    .bot;
  const failed = (cause: unknown) =>
    console.error("[gramio:session] bot.onError failed while reporting:", error, cause);
  try {
    if (typeof bot?.errorHandler !== "function") {
      console.error("[gramio:session]", error);
      return;
    }
    const handled = bot.errorHandler(context, error);
    if (isThenable(handled)) Promise.resolve(handled).catch(failed);
  } catch (cause) {
    failed(cause);
  }
}

/**
 * A rejected promise that does not crash the process if nobody awaits it:
 * merely reading a lazy `ctx[key]` must not be fatal; awaiting it still throws.
 */
function handledRejection(error: unknown): Promise<never> {
  const rejection = Promise.reject(error);
  rejection.catch(() => {});
  return rejection;
}

/** The update type of a context, for messages and logs. */
export function updateTypeOf(ctx: object): string {
  return String((ctx as { updateType?: string }).updateType ?? "update");
}

/** What an unusable session key was, for the error. */
function describeKey(value: unknown): string {
  if (typeof value === "string") return "an empty string";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "bigint") return `${value}n`;
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}
