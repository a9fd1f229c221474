/**
 * One storage object shared with GramIO's other plugins: `@gramio/scenes`
 * keeps its records under `@gramio/scenes:<userId>`, and GramIO's plugins name
 * their keys `@gramio/<plugin>:...`. Keys under `@gramio/` are therefore never
 * sessions: `sessionStore().keys()` skips them, and a `getSessionKey` that
 * returns one is refused instead of overwriting another plugin's record.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** The key prefix of GramIO's other plugins in a shared storage. */
export const OTHER_PLUGINS_PREFIX = "@gramio/";

/** Whether `key` belongs to another GramIO plugin (a scene record), not to a session. */
export function isOtherPluginKey(key: string): boolean {
  // The first character alone rules out every key the built-in strategies make.
  return key.charCodeAt(0) === 64 /* @ */ && key.startsWith(OTHER_PLUGINS_PREFIX);
}

/** `key` if it can be a session key; throws if it is another plugin's. */
export function sessionKeyOnly(key: string, source: string): string {
  if (!isOtherPluginKey(key)) return key;
  throw new SessionError(
    `${source} gave the session key "${key}": keys starting with "${OTHER_PLUGINS_PREFIX}" belong to ` +
      "GramIO's other plugins (@gramio/scenes keeps its records there) when they share the storage, " +
      "so this session would overwrite their record. Use another key.",
    key,
  );
}
