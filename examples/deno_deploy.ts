/**
 * The counter bot as a webhook server for Deno Deploy. Sessions go to the
 * default storage, Deno KV, which on Deploy is the project's database: no
 * setup, shared by every isolate and region.
 *
 * Deploy this file as the entry point, with env BOT_TOKEN and (recommended)
 * WEBHOOK_SECRET, then point Telegram at it once:
 *
 *   curl "https://api.telegram.org/bot$BOT_TOKEN/setWebhook?url=https://<project>.deno.dev/&secret_token=$WEBHOOK_SECRET"
 *
 * Locally: BOT_TOKEN=123:abc deno run -A examples/deno_deploy.ts (port 8000,
 * or PORT). Optional env: TELEGRAM_API_URL, another Bot API server's root.
 *
 * @module
 */

import { Bot, type BotOptions, type TelegramUser, webhookHandler } from "gramio";
import { session, type Storage } from "../mod.ts";

/** What the tests change; on Deploy only the token (and secret) are given. */
export interface WebhookBotOptions {
  /** GramIO's `api` option, e.g. `{ baseURL: "http://127.0.0.1:8081/bot" }`. */
  api?: Partial<BotOptions["api"]>;
  /** The bot's `getMe`: set it to skip that call on each cold start. */
  info?: TelegramUser;
  /** Where sessions live. Default: Deno KV, `Deno.openKv()`. */
  storage?: Storage;
}

/** The counter bot. Handlers return their API calls: see {@linkcode startWebhookServer}. */
export function createWebhookBot(
  token: string,
  options: WebhookBotOptions = {},
) {
  return new Bot(token, { api: options.api, info: options.info })
    .extend(
      session({
        key: "sessionKey",
        initial: () => ({ apple: 1 }),
        storage: options.storage,
      }),
    )
    .on("message", (context) => {
      return context.send(`apple count is ${++context.sessionKey.apple}`);
    });
}

/** Options of {@linkcode startWebhookServer}. */
export interface WebhookServerOptions extends WebhookBotOptions {
  token: string;
  /** Telegram's `X-Telegram-Bot-Api-Secret-Token`; requests without it get 401. */
  secretToken?: string;
  /** `Deno.serve` options: port (0 for any free one), hostname, onListen... */
  serve?: Deno.ServeTcpOptions;
}

/** A running webhook server. */
export interface WebhookServer extends AsyncDisposable {
  /** The GramIO bot behind it. */
  readonly bot: ReturnType<typeof createWebhookBot>;
  /** The HTTP server; `server.addr` is where it listens. */
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** Stops accepting requests, waits for the ones in flight, runs `bot.stop()`. */
  stop(): Promise<void>;
}

/**
 * Serves the bot's webhook: POST (any path) is an update, GET answers a
 * health check. The reply is sent only after the update was handled and its
 * session saved, because Deploy may freeze an isolate once it has answered.
 */
export function startWebhookServer(options: WebhookServerOptions): WebhookServer {
  const bot = createWebhookBot(options.token, options);
  // bot.start() (getMe, unless `info` is given) runs on the first update, so
  // the server listens at once and cold starts stay short. If it fails, that
  // update gets a 500 (Telegram sends it again) and the next one retries.
  let ready: Promise<unknown> | undefined;
  const start = () =>
    ready ??= bot.start({ webhook: true }).catch((error) => {
      ready = undefined;
      throw error;
    });
  const handle = webhookHandler(bot, "std/http", {
    secretToken: options.secretToken,
    shouldWait: { timeout: 25_000 },
  });

  const server = Deno.serve(options.serve ?? {}, async (request) => {
    if (request.method === "GET") return new Response("The bot is running.");
    if (request.method !== "POST") return new Response(null, { status: 405 });
    await start();
    return handle(request);
  });

  let stopping: Promise<void> | undefined;
  const webhookServer: WebhookServer = {
    bot,
    server,
    stop() {
      stopping ??= (async () => {
        await server.shutdown();
        await ready?.catch(() => undefined);
        // 0: nothing is queued in webhook mode, and GramIO never clears this timer.
        await bot.stop(0);
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return webhookServer.stop();
    },
  };
  return webhookServer;
}

if (import.meta.main) {
  const token = Deno.env.get("BOT_TOKEN");
  if (!token) {
    throw new Error("Set BOT_TOKEN to your bot's token (from @BotFather).");
  }
  const apiRoot = Deno.env.get("TELEGRAM_API_URL");
  const port = Deno.env.get("PORT");

  startWebhookServer({
    token,
    secretToken: Deno.env.get("WEBHOOK_SECRET"),
    api: apiRoot ? { baseURL: `${apiRoot}/bot` } : undefined,
    serve: port ? { port: Number(port) } : undefined,
  });
}
