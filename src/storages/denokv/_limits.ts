/**
 * Deno KV's limits as this storage meets them: a ttl KV accepts, the errors
 * KV raises past a value, key or commit limit, and the error this storage
 * raises for a session that does not fit in one commit.
 *
 * @module
 */

import { type SetOptions, ttlOf } from "../../storage.ts";

/** KV `set` options for a ttl: `undefined` for none. */
export type ExpireOptions = { expireIn: number } | undefined;

/** `options.ttl` as KV `expireIn`; a `RangeError` unless it is a positive number. */
export function expireOptions(options: SetOptions | undefined): ExpireOptions {
  const ttl = ttlOf(options, "Deno KV storage");
  // KV wants a whole number of milliseconds.
  return ttl === undefined ? undefined : { expireIn: Math.ceil(ttl) };
}

/** "Value too large (max 65536 bytes)" on Deno, "ValueTooLong" from `@deno/kv` on Node. */
export function isValueTooLarge(error: unknown): boolean {
  return error instanceof Error &&
    /value\s?too\s?(?:large|long)/i.test(error.message);
}

/**
 * KV's per-value, per-key and per-commit limits: "Total mutation size too
 * large (max 819200 bytes)", "Too many mutations (max 1000)" on Deno,
 * "AtomicWriteTooLarge", "KeyTooLong" from `@deno/kv` on Node.
 */
export function isLimitError(error: unknown): boolean {
  return error instanceof Error &&
    /too\s?(?:large|long|many)/i.test(error.message);
}

/** A session of `size` bytes that does not fit, past `limit`. */
export function tooLarge(
  key: string,
  size: number,
  limit: string,
  cause?: unknown,
): RangeError {
  return new RangeError(
    `Deno KV storage: session "${key}" is ${size} bytes serialized and does not fit in one atomic commit ` +
      `(${limit}). The stored session was left unchanged; keep large data outside the session.`,
    cause === undefined ? undefined : { cause },
  );
}
