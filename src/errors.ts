/**
 * Errors the plugin raises. Each names the session (the `key` option) and,
 * where there is one, the storage key, and says what to do.
 *
 * @module
 */

/**
 * Base class of every error raised by this plugin; `bot.onError` receives it.
 *
 * @example
 * ```ts
 * import { Bot } from "gramio";
 * import { SessionError, session } from "@gramio/session";
 *
 * const bot = new Bot("TOKEN")
 *   .extend(session({ initial: () => ({ count: 0 }) }))
 *   .onError(({ error }) => {
 *     if (error instanceof SessionError) console.error(error.sessionKey, error.message);
 *   });
 * ```
 */
export class SessionError extends Error {
  /** The storage key of the session, when there is one. */
  readonly sessionKey: string | undefined;

  /** An error about the session stored under `sessionKey`. */
  constructor(message: string, sessionKey?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SessionError";
    this.sessionKey = sessionKey;
  }
}

/**
 * The storage failed to read, write or delete a session. Nothing was
 * overwritten: a failed read never runs handlers on a blank session.
 *
 * @example
 * ```ts
 * import { SessionStorageError } from "@gramio/session";
 *
 * const error = new SessionStorageError("read", "42", new Error("connection refused"));
 * console.log(error.message);
 * ```
 */
export class SessionStorageError extends SessionError {
  /** What the plugin was doing. */
  readonly operation: "read" | "write" | "delete";

  /** `cause` is what the storage threw. */
  constructor(
    operation: "read" | "write" | "delete",
    sessionKey: string,
    cause: unknown,
  ) {
    const reason = describeCause(cause);
    super(
      `Session "${sessionKey}": storage ${operation} failed: ${reason}` +
        (operation === "read"
          ? " (handlers were not run on a blank session; nothing was written)"
          : ""),
      sessionKey,
      { cause },
    );
    this.name = "SessionStorageError";
    this.operation = operation;
  }
}

/**
 * What a storage threw, in words: its message; for an error without one (a
 * socket closed, an `AggregateError` of failed connections, as Redis clients
 * throw during a failover), its name, code and the messages it aggregates.
 */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  if (cause.message) return cause.message;
  const code = (cause as { code?: unknown }).code;
  // One level only: an aggregate that holds itself must not recurse forever.
  const inner = cause instanceof AggregateError
    ? cause.errors.slice(0, 3).map((error) =>
      error instanceof Error ? error.message || error.name : String(error)
    )
    : [];
  return [cause.name, code === undefined ? "" : String(code), inner.join("; ")]
    .filter(Boolean).join(": ");
}

/**
 * Another process saved the same session while this update ran, and the two
 * changes touch the same top-level fields (or `onConflict: "error"`). This
 * update's changes were not saved; the other process's are kept.
 *
 * @example
 * ```ts
 * import { SessionConflictError } from "@gramio/session";
 *
 * const error = new SessionConflictError("42", ["count"]);
 * console.log(error.fields); // ["count"]
 * ```
 */
export class SessionConflictError extends SessionError {
  /** Top-level fields both sides changed (empty when not computed). */
  readonly fields: string[];

  /** `fields` are the top-level fields both sides changed; `detail` is appended to the message. */
  constructor(sessionKey: string, fields: string[], detail = "") {
    super(
      `Session "${sessionKey}" was changed by another bot instance while this update ran` +
        (fields.length ? ` (both changed: ${fields.join(", ")})` : "") +
        `; this update's changes were not saved.${detail ? " " + detail : ""}`,
      sessionKey,
    );
    this.name = "SessionConflictError";
    this.fields = fields;
  }
}

/**
 * The stored value cannot be a session (not an object, or undecodable). It
 * is left as it is; `onInvalidData: "reset"` starts such sessions afresh.
 *
 * @example
 * ```ts
 * import { SessionDataError } from "@gramio/session";
 *
 * console.log(new SessionDataError("42", "a number").message);
 * ```
 */
export class SessionDataError extends SessionError {
  /** `what` describes the stored value, e.g. "a number". */
  constructor(sessionKey: string, what: string) {
    super(
      `Session "${sessionKey}": the stored value is ${what}, not a session object. ` +
        `It was left untouched. Fix or delete it, or pass onInvalidData: "reset" to start such sessions from initial().`,
      sessionKey,
    );
    this.name = "SessionDataError";
  }
}
