/**
 * End-to-end harness: real GramIO bots talking over HTTP to telegram-test-api
 * (an in-process Telegram Bot API emulator), with simulated users.
 *
 * ```ts ignore
 * import { Bot } from "gramio";
 * import { startTelegramServer } from "./support/telegram.ts";
 *
 * Deno.test("echo", async () => {
 *   await using server = await startTelegramServer();
 *   const bot = new Bot(server.token, { api: server.api })
 *     .on("message", (ctx) => ctx.send(`you said: ${ctx.text}`));
 *   await server.startBot(bot); // long polling; stopped by server.stop()
 *   const alice = server.user({ id: 1, firstName: "Alice" });
 *   await alice.sendText("hi");
 *   const reply = await alice.nextReply(); // { text: "you said: hi", ... }
 * });
 * ```
 *
 * What it adds on top of the bare emulator, and why:
 * - A real long-poll `getUpdates` (the emulator answers at once and ignores
 *   `timeout`/`offset`, so GramIO's polling loop spins thousands of requests a
 *   second). Here a poll waits until an update arrives, its `timeout` elapses,
 *   or the harness releases it; `offset` confirms updates as in Telegram.
 * - A free port (the emulator turns port 0 into 9000) on 127.0.0.1.
 * - `startBot()`/`RunningBot.stop()`: stops a bot without waiting for the
 *   30 s long poll and without leaking GramIO's queue-stop timer, so tests pass
 *   with `--sanitize-ops --sanitize-resources`. Stop a bot you started with
 *   `bot.start()` yourself before `server.stop()`; prefer `startBot()`.
 * - Users that read the bot's messages in-process (event-driven, no polling):
 *   a user sees the messages the bot sent to the user's chat after the user was
 *   created. Private chats (the default, `chatId = id`) keep users apart; users
 *   sharing a group `chatId` all see that chat's messages.
 *
 * Emulator limits: the bot may call getMe, sendMessage, editMessageText,
 * editMessageReplyMarkup, deleteMessage, answerCallbackQuery, setWebhook and
 * deleteWebhook; other methods fail with an error.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TelegramServer } from "telegram-test-api/lib/telegramServer.js";

/** What GramIO's `api` option needs to talk to the emulator. */
export interface EmulatorApiOptions {
  /** `http://127.0.0.1:<port>/bot`; GramIO appends `<token>/<method>`. */
  baseURL: string;
  /** Short, so a failed poll does not leave GramIO's 1 s retry timer behind. */
  retryGetUpdatesWait: number;
}

/** The part of a GramIO `Bot` the harness drives (any `Bot<...>` fits). */
export interface PollingBot {
  readonly options: { readonly token: string };
  start(options?: {
    longPolling?: { timeout?: number };
    dropPendingUpdates?: boolean;
  }): Promise<unknown>;
  stop(timeout?: number): Promise<void>;
  updates: {
    isStarted: boolean;
    isRequestActive: boolean;
    stopPolling(waitPendingRequests?: boolean): Promise<void>;
    queue: { onIdle(): Promise<void>; readonly isActive: boolean };
  };
}

/** Options of {@link TelegramTestServer.startBot}. */
export interface StartBotOptions {
  /** Seconds a getUpdates long poll may wait (GramIO's default: 30). */
  longPollingTimeout?: number;
  /** Longest wait in {@link RunningBot.stop} for handlers still running. */
  stopTimeoutMs?: number;
}

/** A bot polling the emulator, started by {@link TelegramTestServer.startBot}. */
export interface RunningBot extends AsyncDisposable {
  readonly token: string;
  /** Ends polling at once (answers the pending long poll), waits for running
   * handlers, then runs GramIO's `bot.stop()` (onStop hooks). Idempotent. */
  stop(): Promise<void>;
}

/** A message the bot sent (via sendMessage) to a user's chat. */
export interface BotReply {
  /** The emulator's message_id (unique per server). */
  readonly messageId: number;
  readonly chatId: number;
  readonly text: string | undefined;
  /** Parsed `reply_markup`, if the bot sent one. */
  readonly replyMarkup: unknown;
  /** Every parameter the bot passed to sendMessage (parse_mode, entities...). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** Options of {@link user}. */
export interface TestUserOptions {
  id: number;
  firstName: string;
  /** Defaults to `id` (a private chat with the bot). */
  chatId?: number;
  username?: string;
  /** Defaults to "private". */
  chatType?: "private" | "group" | "supergroup";
  /** Bot to talk to; defaults to the server's {@link TelegramTestServer.token}. */
  token?: string;
  /** Default timeout of {@link TestUser.nextReply} and friends (5000 ms). */
  timeoutMs?: number;
}

/** Options of the waiting methods of {@link TestUser}. */
export interface WaitOptions {
  timeoutMs?: number;
}

/** A simulated Telegram user chatting with one bot. */
export interface TestUser {
  readonly id: number;
  readonly chatId: number;
  readonly token: string;
  /** Sends a text message; resolves once the update is queued for the bot. */
  sendText(text: string, extra?: Record<string, unknown>): Promise<void>;
  /** Sends a `/command args` message with a bot_command entity. */
  sendCommand(command: string): Promise<void>;
  /** Presses an inline button: a callback_query with `data` on `message`. */
  pressButton(data: string, message?: BotReply): Promise<void>;
  /** Waits for and consumes the next bot message in this user's chat. */
  nextReply(options?: WaitOptions): Promise<BotReply>;
  /** Waits for and consumes the next `count` bot messages, in order. */
  waitForReplies(count: number, options?: WaitOptions): Promise<BotReply[]>;
  /** Consumes the bot messages that already arrived (no waiting). */
  takeReplies(): BotReply[];
}

/** An emulator on a free 127.0.0.1 port, from {@link startTelegramServer}. */
export interface TelegramTestServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly apiURL: string;
  /** `apiURL + "/bot"`: GramIO's `api.baseURL`. */
  readonly baseURL: string;
  /** Pass as `new Bot(server.token, { api: server.api })`. */
  readonly api: EmulatorApiOptions;
  /** A token unique to this server, the default for users. */
  readonly token: string;
  /** The raw emulator, for what the harness does not cover. */
  readonly emulator: TelegramServer;
  /** Another unique token, for a second bot on the same server. */
  newToken(): string;
  /** Starts long polling and tracks the bot so {@link stop} stops it. */
  startBot(bot: PollingBot, options?: StartBotOptions): Promise<RunningBot>;
  /** Same as {@link user}`(server, options)`. */
  user(options: TestUserOptions): TestUser;
  /** Stops started bots, answers pending polls, closes the server. Idempotent. */
  stop(): Promise<void>;
}

// Emulator internals the harness relies on (telegram-test-api 4.2.1).
interface StoredUserUpdate {
  botToken: string;
  updateId: number;
  isRead: boolean;
}
interface StoredBotMessage {
  botToken: string;
  messageId: number;
  message: Record<string, unknown>;
}
type NodeHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  settings?: unknown;
};
interface EmulatorInternals {
  webServer: NodeHandler;
  server: { address(): AddressInfo | string | null } | null;
  storage: {
    userMessages: StoredUserUpdate[];
    botMessages: StoredBotMessage[];
  };
}
const formatUpdate = (TelegramServer as unknown as {
  formatUpdate(update: StoredUserUpdate): unknown;
}).formatUpdate;

const USER_UPDATE_EVENTS = [
  "AddedUserMessage",
  "AddedUserCommand",
  "AddedUserCallbackQuery",
] as const;
const GET_UPDATES_PATH = /^\/bot([^/]+)\/getUpdates\/?$/;
const DEFAULT_TIMEOUT_MS = 5000;

interface PendingPoll {
  token: string;
  offset: number;
  limit: number;
  answer(result: unknown[]): void;
}

interface Waiter {
  check(): boolean;
}

let tokenCounter = 0;
function makeToken(): string {
  tokenCounter++;
  return `${100000 + tokenCounter}:TEST${crypto.randomUUID().replaceAll("-", "")}`;
}

/** Runs `promise` with a deadline; the timer is always cleared. */
async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => T,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readParams(
  req: IncomingMessage,
): Promise<URLSearchParams | Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of req) chunks.push(chunk as Uint8Array);
  const body = Buffer.concat(chunks).toString("utf8");
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  if (body === "") return query;
  if (String(req.headers["content-type"]).includes("json")) {
    return { ...Object.fromEntries(query), ...JSON.parse(body) };
  }
  return new URLSearchParams([...query, ...new URLSearchParams(body)]);
}

function param(
  params: URLSearchParams | Record<string, unknown>,
  name: string,
): number | undefined {
  const raw = params instanceof URLSearchParams ? params.get(name) : params[name];
  if (raw === null || raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Starts telegram-test-api on a free port of 127.0.0.1 with long-polling
 * getUpdates. Always `stop()` it (or `await using`).
 *
 * @example
 * ```ts ignore
 * await using server = await startTelegramServer();
 * const bot = new Bot(server.token, { api: server.api });
 * ```
 */
export async function startTelegramServer(): Promise<TelegramTestServer> {
  const emulator = new TelegramServer({ host: "127.0.0.1", protocol: "http" });
  const internals = emulator as unknown as EmulatorInternals;
  // normalizeConfig() maps port 0 to 9000; set it after construction instead.
  emulator.config.port = 0;

  const polls = new Set<PendingPoll>();
  const waiters = new Set<Waiter>();
  const bots = new Set<RunningBot>();
  // Tokens of bots being stopped: their polls are answered at once, because a
  // poll can still be on the wire (body unread) when the harness releases.
  const released = new Set<string>();
  let stopping: Promise<void> | undefined;

  /** Unread updates of `token`, confirming (marking read) those below `offset`. */
  const collect = (token: string, offset: number, limit: number): unknown[] => {
    const mine = internals.storage.userMessages.filter((u) => u.botToken === token && !u.isRead);
    let pending = mine;
    if (offset < 0) {
      // Telegram: a negative offset keeps only the last -offset updates.
      pending = mine.slice(offset);
      for (const u of mine.slice(0, mine.length - pending.length)) {
        u.isRead = true;
      }
    } else if (offset > 0) {
      for (const u of mine) if (u.updateId < offset) u.isRead = true;
      pending = mine.filter((u) => u.updateId >= offset);
    }
    return pending.slice(0, Math.max(1, Math.min(limit, 100))).map(
      formatUpdate,
    );
  };
  const wakePolls = (): void => {
    for (const poll of polls) {
      const result = collect(poll.token, poll.offset, poll.limit);
      if (result.length > 0) poll.answer(result);
    }
  };
  const releasePolls = (token?: string): void => {
    for (const poll of polls) {
      if (token === undefined || poll.token === token) poll.answer([]);
    }
  };
  const wakeWaiters = (): void => {
    for (const waiter of waiters) if (waiter.check()) waiters.delete(waiter);
  };

  const longPoll = async (
    token: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    const params = await readParams(req);
    const offset = param(params, "offset") ?? 0;
    const limit = param(params, "limit") ?? 100;
    const timeoutSec = param(params, "timeout") ?? 0;
    const respond = (result: unknown[]): void => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, result }));
    };
    const ready = collect(token, offset, limit);
    if (
      ready.length > 0 || timeoutSec <= 0 || stopping || released.has(token)
    ) {
      return respond(ready);
    }
    const poll: PendingPoll = {
      token,
      offset,
      limit,
      answer(result) {
        polls.delete(poll);
        clearTimeout(timer);
        respond(result);
      },
    };
    const timer = setTimeout(() => poll.answer([]), timeoutSec * 1000);
    polls.add(poll);
    // The client went away (aborted fetch): forget the poll and its timer.
    res.once("close", () => {
      polls.delete(poll);
      clearTimeout(timer);
    });
  };

  // Route getUpdates to the long poll; everything else to the emulator's app.
  const app = internals.webServer;
  const handler: NodeHandler = (req, res) => {
    const match = GET_UPDATES_PATH.exec(
      new URL(req.url ?? "/", "http://localhost").pathname,
    );
    if (!match) return app(req, res);
    longPoll(decodeURIComponent(match[1]), req, res).catch((error) => {
      if (res.headersSent) return;
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ok: false,
          error_code: 400,
          description: String(error),
        }),
      );
    });
  };
  handler.settings = app.settings; // start() logs app.settings.env
  internals.webServer = handler;

  for (const event of USER_UPDATE_EVENTS) emulator.on(event, wakePolls);
  emulator.on("AddedBotMessage", wakeWaiters);

  await emulator.start();
  const address = internals.server?.address();
  if (!address || typeof address === "string") {
    throw new Error("emulator has no TCP address");
  }
  emulator.config.port = address.port;
  emulator.config.apiURL = `http://127.0.0.1:${address.port}`;
  const apiURL = emulator.config.apiURL;

  const stopBot = async (
    bot: PollingBot,
    stopTimeoutMs: number,
  ): Promise<void> => {
    const token = bot.options.token;
    // stopPolling(true) resolves when GramIO's fetch loop ends; the loop ends
    // once its pending long poll is answered, so answer it right away.
    const loopEnded = bot.updates.isRequestActive ? bot.updates.stopPolling(true) : undefined;
    bot.updates.isStarted = false;
    released.add(token);
    releasePolls(token);
    // The deadline covers a loop that already ended on a failed poll (GramIO
    // leaves isRequestActive set then, so stopPolling(true) never resolves).
    if (loopEnded) {
      await withDeadline(loopEnded, stopTimeoutMs, () => undefined);
    }
    await withDeadline(
      bot.updates.queue.onIdle(),
      stopTimeoutMs,
      () => undefined,
    );
    // An inactive queue means bot.stop() already ran: do not rerun onStop hooks.
    if (!bot.updates.queue.isActive) return;
    // bot.stop(t) races the idle queue with setTimeout(t) and never clears it:
    // use 0 and let that timer fire before returning (timers fire in order).
    await bot.stop(0);
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  };

  const server: TelegramTestServer = {
    apiURL,
    baseURL: `${apiURL}/bot`,
    api: { baseURL: `${apiURL}/bot`, retryGetUpdatesWait: 50 },
    token: makeToken(),
    emulator,
    newToken: makeToken,
    async startBot(bot, options = {}) {
      if (stopping) throw new Error("telegram test server is stopped");
      const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_TIMEOUT_MS;
      released.delete(bot.options.token);
      await bot.start(
        options.longPollingTimeout === undefined
          ? {}
          : { longPolling: { timeout: options.longPollingTimeout } },
      );
      let stopped: Promise<void> | undefined;
      const running: RunningBot = {
        token: bot.options.token,
        stop() {
          bots.delete(running);
          stopped ??= stopBot(bot, stopTimeoutMs);
          return stopped;
        },
        [Symbol.asyncDispose]() {
          return running.stop();
        },
      };
      bots.add(running);
      return running;
    },
    user(options) {
      return user(server, options);
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all([...bots].map((bot) => bot.stop()));
        releasePolls();
        for (const event of USER_UPDATE_EVENTS) emulator.off(event, wakePolls);
        emulator.off("AddedBotMessage", wakeWaiters);
        wakeWaiters();
        await emulator.stop();
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  servers.set(server, {
    internals,
    waiters,
    isStopped: () => stopping !== undefined,
  });
  return server;
}

// Per-server state users need, kept off the public interface.
const servers = new WeakMap<TelegramTestServer, {
  internals: EmulatorInternals;
  waiters: Set<Waiter>;
  isStopped(): boolean;
}>();

/**
 * A simulated user of the bot with `options.token` (default: the server's
 * token). Replies are the bot's messages to `chatId` sent after this call.
 *
 * @example
 * ```ts ignore
 * const alice = user(server, { id: 1, firstName: "Alice" });
 * await alice.sendText("hi");
 * assert.equal((await alice.nextReply()).text, "you said: hi");
 * ```
 */
export function user(
  server: TelegramTestServer,
  options: TestUserOptions,
): TestUser {
  const state = servers.get(server);
  if (!state) throw new Error("not a server from startTelegramServer()");
  const token = options.token ?? server.token;
  const chatId = options.chatId ?? options.id;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = server.emulator.getClient(token, {
    userId: options.id,
    chatId,
    firstName: options.firstName,
    userName: options.username ?? `user${options.id}`,
    type: options.chatType ?? "private",
  });
  const mine = (m: StoredBotMessage): boolean =>
    m.botToken === token && String(m.message.chat_id) === String(chatId);
  // Consume only messages newer than this user; message ids grow monotonically.
  let cursor = Math.max(
    0,
    ...state.internals.storage.botMessages.filter(mine).map((m) => m.messageId),
  );

  const unread = (): StoredBotMessage[] =>
    state.internals.storage.botMessages.filter((m) => mine(m) && m.messageId > cursor);
  const consume = (messages: StoredBotMessage[]): BotReply[] => {
    if (messages.length > 0) cursor = messages[messages.length - 1].messageId;
    return messages.map((m) => ({
      messageId: m.messageId,
      chatId,
      text: typeof m.message.text === "string" ? m.message.text : undefined,
      replyMarkup: m.message.reply_markup,
      params: structuredClone(m.message),
    }));
  };
  const describe = (): string => `user ${options.id} (chat ${chatId})`;
  const assertRunning = (): void => {
    if (state.isStopped()) {
      throw new Error(`${describe()}: the telegram test server is stopped`);
    }
  };

  const self: TestUser = {
    id: options.id,
    chatId,
    token,
    async sendText(text, extra = {}) {
      assertRunning();
      await server.emulator.addUserMessage(client.makeMessage(text, extra));
    },
    async sendCommand(command) {
      assertRunning();
      await server.emulator.addUserCommand(client.makeCommand(command));
    },
    async pressButton(data, message) {
      assertRunning();
      const meta = message
        ? {
          message: {
            message_id: message.messageId,
            date: Math.floor(Date.now() / 1000),
          },
        }
        : {};
      await server.emulator.addUserCallback(
        client.makeCallbackQuery(data, meta),
      );
    },
    async nextReply(waitOptions) {
      const [reply] = await self.waitForReplies(1, waitOptions);
      return reply;
    },
    waitForReplies(count, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? defaultTimeoutMs;
      return new Promise<BotReply[]>((resolve, reject) => {
        const fail = (why: string): void => {
          const got = unread().map((m) => m.message.text);
          reject(
            new Error(
              `${describe()}: expected ${count} replies, ${why}; got ${got.length}: ${
                JSON.stringify(got)
              }`,
            ),
          );
        };
        const ready = unread();
        if (ready.length >= count) {
          return resolve(consume(ready.slice(0, count)));
        }
        if (state.isStopped()) return fail("the telegram test server stopped");
        const waiter: Waiter = {
          check() {
            const ready = unread();
            if (ready.length >= count) {
              resolve(consume(ready.slice(0, count)));
            } else if (state.isStopped()) {
              fail("the telegram test server stopped");
            } else {
              return false;
            }
            clearTimeout(timer);
            return true;
          },
        };
        state.waiters.add(waiter);
        const timer = setTimeout(() => {
          state.waiters.delete(waiter);
          fail(`none more within ${timeoutMs} ms`);
        }, timeoutMs);
      });
    },
    takeReplies() {
      return consume(unread());
    },
  };
  return self;
}
