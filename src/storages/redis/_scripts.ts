/**
 * The Lua scripts of compare-and-set: each checks the stored version and
 * writes or deletes in one atomic step on the server. They are sent by SHA-1
 * (`EVALSHA`), and in full once a server does not know them yet.
 *
 * @module
 */

import type { Command } from "./_connection.ts";
import { MARKER, sha1 } from "./_format.ts";

// KEYS[1]: key; ARGV[1]: expected version ("" = must not exist). Returns 0
// unless the stored version is the expected one.
const CHECK_VERSION = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[1] ~= '' then return 0 end
else
  if ARGV[1] == '' then return 0 end
  local version
  if string.sub(cur, 1, 4) == '${MARKER}' then
    local stop = string.find(cur, ':', 5, true)
    if stop then version = string.sub(cur, 5, stop - 1) end
  end
  if not version then version = 'sha1:' .. redis.sha1hex(cur) end
  if version ~= ARGV[1] then return 0 end
end
`;

/**
 * After CHECK_VERSION. ARGV[2]: stored string, ARGV[3]: PX milliseconds
 * ("" = no expiry). Returns 1 when written.
 */
export const SET_IF_VERSION: string = CHECK_VERSION + `
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`;

/** After CHECK_VERSION. Returns 1 when deleted (or nothing was there, as expected). */
export const DELETE_IF_VERSION: string = CHECK_VERSION + `
redis.call('DEL', KEYS[1])
return 1
`;

/** SHA-1 of each Lua script, for EVALSHA (a promise only until first computed). */
const scriptShas = new Map<string, string | Promise<string>>();

/** Runs `script` with `args` (`numkeys`, keys, then arguments) through `command`. */
export async function evalScript(
  command: Command,
  script: string,
  args: string[],
): Promise<unknown> {
  let scriptSha = scriptShas.get(script);
  if (scriptSha === undefined) {
    scriptShas.set(script, scriptSha = sha1(script));
    scriptShas.set(script, scriptSha = await scriptSha);
  } else if (typeof scriptSha !== "string") scriptSha = await scriptSha;
  try {
    return await command(["EVALSHA", scriptSha, ...args]);
  } catch (error) {
    if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) {
      throw error;
    }
    // Not cached on this server yet (restart, SCRIPT FLUSH): EVAL loads it.
    return await command(["EVAL", script, ...args]);
  }
}
