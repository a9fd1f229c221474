/**
 * Two `session()` plugins with the same key on one bot. GramIO runs only the
 * first (it skips a plugin whose name and seed it has seen, and the seed is
 * the key), while the bot's types promise both: the second one's options
 * (`storage`, `initial`, `getSessionKey`...) would be silently unused. The
 * skipped plugin's hooks are still registered, so each plugin tags its
 * `onStop` hook and the one that runs finds the other's tag on the bot.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

const TAG: unique symbol = Symbol("@gramio/session plugin");

interface Tag {
  property: string;
  plugin: object;
}

/** Marks `hook` (registered on every bot the plugin extends) as `plugin`'s, for `property`. */
export function tagHook<Args extends unknown[], Result>(
  hook: (...args: Args) => Result,
  property: string,
  plugin: object,
): (...args: Args) => Result {
  (hook as { [TAG]?: Tag })[TAG] = { property, plugin };
  return hook;
}

/**
 * The error for a `bot` that has another session plugin for `property` than
 * `plugin`, or `undefined`. Asked once per bot (until it passes), on the
 * first update.
 */
export function duplicateSessionError(
  bot: unknown,
  property: string,
  plugin: object,
): SessionError | undefined {
  const hooks = (bot as { hooks?: { onStop?: unknown } } | undefined)?.hooks?.onStop;
  if (!Array.isArray(hooks)) return undefined;
  let count = 1;
  const seen = new Set<object>([plugin]);
  for (const hook of hooks) {
    const tag = typeof hook === "function" ? (hook as { [TAG]?: Tag })[TAG] : undefined;
    if (tag?.property === property && !seen.has(tag.plugin)) {
      seen.add(tag.plugin);
      count++;
    }
  }
  if (count === 1) return undefined;
  return new SessionError(
    `${count} session() plugins with key "${property}" on one bot: GramIO runs only the first ` +
      "one extended and silently skips the others (same plugin, same key), so their options " +
      "(storage, initial, getSessionKey...) are never used. Give each session() its own key " +
      `option, e.g. session({ key: "${property}" }) and session({ key: "chatSession" }), and ` +
      `read them as ctx.${property} and ctx.chatSession.`,
  );
}
