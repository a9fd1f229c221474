/**
 * How every example bot runs from the command line: the token from BOT_TOKEN,
 * an optional Bot API server root from TELEGRAM_API_URL, optional sessions in
 * the Deno KV file KV_PATH, and a graceful stop on SIGINT/SIGTERM
 * (`bot.stop()` waits for running handlers and session saves).
 */

import type { AnyBot } from "gramio";
import { denoKvStorage, type Storage } from "../mod.ts";

/** What an example's bot builder receives from the environment. */
export interface EnvBotOptions {
  /** GramIO's `api` option when TELEGRAM_API_URL is set. */
  api?: { baseURL: string };
  /** Sessions in KV_PATH when it is set; otherwise the example's default. */
  storage?: Storage;
}

/** Builds the bot from the environment, starts it, and stops it on a signal (then `onStop`). */
export async function runFromEnv(
  create: (token: string, options: EnvBotOptions) => AnyBot,
  onStop?: () => Promise<unknown>,
): Promise<void> {
  const token = Deno.env.get("BOT_TOKEN");
  if (!token) {
    throw new Error("Set BOT_TOKEN to your bot's token (from @BotFather).");
  }
  const apiRoot = Deno.env.get("TELEGRAM_API_URL");
  const kvPath = Deno.env.get("KV_PATH");

  const bot = create(token, {
    api: apiRoot ? { baseURL: `${apiRoot}/bot` } : undefined,
    storage: kvPath ? denoKvStorage(await Deno.openKv(kvPath)) : undefined,
  }).onStart(({ info }) => console.log(`@${info.username} is running`));

  const shutdown = async () => {
    await bot.stop();
    await onStop?.();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", shutdown);

  await bot.start();
}
