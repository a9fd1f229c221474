/**
 * Debug logs under `DEBUG=gramio:session`, with the `debug` package GramIO
 * itself logs with. Off by default; each call site checks `log.enabled` first,
 * so a disabled log costs one property read. Logs name session keys and
 * sizes, never session contents.
 *
 * @module
 */

import createDebug from "debug";
import { serialize } from "node:v8";

/** A `debug` logger: call it with a printf-style format. */
export interface Logger {
  (format: string, ...args: unknown[]): void;
  readonly enabled: boolean;
}

/** The `gramio:session` logger. */
export const log: Logger = createDebug("gramio:session") as Logger;

/** Milliseconds since `start` (from `performance.now()`), rounded for logs. */
export function since(start: number): string {
  return (performance.now() - start).toFixed(2);
}

/** Logs about one session: `<key option> key=<session key> <format>`. */
export function logSession(
  property: string,
  key: string,
  format: string,
  ...args: unknown[]
): void {
  log(`%s key=%s ${format}`, property, key, ...args);
}

/** A session's size for logs; never fails the save it describes. */
export function byteSize(data: object): number | string {
  try {
    return serialize(data).byteLength;
  } catch {
    return "?";
  }
}
