/**
 * End-to-end harness for Node and Bun: real GramIO bots talking over HTTP to
 * telegram-test-api (a Telegram Bot API emulator in this process), with
 * simulated users. A JavaScript port of tests/support/telegram.ts (the Deno
 * harness); keep the two in step.
 *
 * ```js
 * const server = await startTelegramServer();
 * const bot = new Bot(server.token, { api: server.api })
 *   .on("message", (ctx) => ctx.send(`you said: ${ctx.text}`));
 * await server.startBot(bot); // long polling; stopped by server.stop()
 * const alice = server.user({ id: 1, firstName: "Alice" });
 * await alice.sendText("hi");
 * const reply = await alice.nextReply(); // { text: "you said: hi", ... }
 * await server.stop();
 * ```
 *
 * What it adds on top of the bare emulator, and why:
 * - A real long-poll `getUpdates`: the emulator answers at once and ignores
 *   `timeout`/`offset`, so GramIO's polling loop would spin. Here a poll waits
 *   until an update arrives, its `timeout` elapses, or the harness releases
 *   it; `offset` confirms updates as in Telegram.
 * - A free port on 127.0.0.1 (the emulator turns port 0 into 9000).
 * - `startBot()`/`stop()` end polling without waiting for a 30 s long poll and
 *   without leaving GramIO's timers behind, so the process exits on its own.
 * - Users that read the bot's messages in-process, event-driven: a user sees
 *   the messages the bot sent to the user's chat after the user was created.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { TelegramServer } from "telegram-test-api/lib/telegramServer.js";

const USER_UPDATE_EVENTS = [
  "AddedUserMessage",
  "AddedUserCommand",
  "AddedUserCallbackQuery",
];
const GET_UPDATES_PATH = /^\/bot([^/]+)\/getUpdates\/?$/;
const DEFAULT_TIMEOUT_MS = 5000;

let tokenCounter = 0;
function makeToken() {
  tokenCounter++;
  return `${100000 + tokenCounter}:TEST${randomUUID().replaceAll("-", "")}`;
}

/** Runs `promise` with a deadline; the timer is always cleared. */
async function withDeadline(promise, ms, onTimeout) {
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readParams(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8");
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  if (body === "") return query;
  if (String(req.headers["content-type"]).includes("json")) {
    return { ...Object.fromEntries(query), ...JSON.parse(body) };
  }
  return new URLSearchParams([...query, ...new URLSearchParams(body)]);
}

function param(params, name) {
  const raw = params instanceof URLSearchParams ? params.get(name) : params[name];
  if (raw === null || raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Starts telegram-test-api on a free port of 127.0.0.1 with long-polling
 * getUpdates. Always `stop()` it.
 */
export async function startTelegramServer() {
  const emulator = new TelegramServer({ host: "127.0.0.1", protocol: "http" });
  // normalizeConfig() maps port 0 to 9000; set it after construction instead.
  emulator.config.port = 0;
  const storage = emulator.storage;
  const formatUpdate = TelegramServer.formatUpdate;

  const polls = new Set();
  const waiters = new Set();
  const bots = new Set();
  // Tokens of bots being stopped: their polls are answered at once, because a
  // poll can still be on the wire (body unread) when the harness releases.
  const released = new Set();
  let stopping;

  /** Unread updates of `token`, confirming (marking read) those below `offset`. */
  const collect = (token, offset, limit) => {
    const mine = storage.userMessages.filter((u) => u.botToken === token && !u.isRead);
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
  const wakePolls = () => {
    for (const poll of polls) {
      const result = collect(poll.token, poll.offset, poll.limit);
      if (result.length > 0) poll.answer(result);
    }
  };
  const releasePolls = (token) => {
    for (const poll of polls) {
      if (token === undefined || poll.token === token) poll.answer([]);
    }
  };
  const wakeWaiters = () => {
    for (const waiter of waiters) if (waiter.check()) waiters.delete(waiter);
  };

  const longPoll = async (token, req, res) => {
    const params = await readParams(req);
    const offset = param(params, "offset") ?? 0;
    const limit = param(params, "limit") ?? 100;
    const timeoutSec = param(params, "timeout") ?? 0;
    const respond = (result) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, result }));
    };
    const ready = collect(token, offset, limit);
    if (
      ready.length > 0 || timeoutSec <= 0 || stopping || released.has(token)
    ) return respond(ready);
    const poll = {
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
  const app = emulator.webServer;
  const handler = (req, res) => {
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
  emulator.webServer = handler;

  for (const event of USER_UPDATE_EVENTS) emulator.on(event, wakePolls);
  emulator.on("AddedBotMessage", wakeWaiters);

  await emulator.start();
  const address = emulator.server?.address();
  if (!address || typeof address === "string") {
    throw new Error("emulator has no TCP address");
  }
  emulator.config.port = address.port;
  emulator.config.apiURL = `http://127.0.0.1:${address.port}`;
  const apiURL = emulator.config.apiURL;

  const stopBot = async (bot, stopTimeoutMs) => {
    const token = bot.options.token;
    // stopPolling(true) resolves when GramIO's fetch loop ends; the loop ends
    // once its pending long poll is answered, so answer it right away.
    const loopEnded = bot.updates.isRequestActive ? bot.updates.stopPolling(true) : undefined;
    bot.updates.isStarted = false;
    released.add(token);
    releasePolls(token);
    // The deadline covers a loop that died on a network error (GramIO leaves
    // isRequestActive set then, and never resolves stopPolling(true)).
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
    await new Promise((resolve) => setTimeout(resolve, 0));
  };

  const server = {
    apiURL,
    baseURL: `${apiURL}/bot`,
    /** Pass as `new Bot(server.token, { api: server.api })`. */
    api: { baseURL: `${apiURL}/bot`, retryGetUpdatesWait: 50 },
    token: makeToken(),
    emulator,
    newToken: makeToken,
    /** Starts long polling and tracks the bot so `stop()` stops it. */
    async startBot(bot, options = {}) {
      if (stopping) throw new Error("telegram test server is stopped");
      const stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_TIMEOUT_MS;
      released.delete(bot.options.token);
      await bot.start(
        options.longPollingTimeout === undefined
          ? {}
          : { longPolling: { timeout: options.longPollingTimeout } },
      );
      let stopped;
      const running = {
        token: bot.options.token,
        stop() {
          bots.delete(running);
          stopped ??= stopBot(bot, stopTimeoutMs);
          return stopped;
        },
      };
      bots.add(running);
      return running;
    },
    user(options) {
      return user(server, options);
    },
    /** Stops started bots, answers pending polls, closes the server. Idempotent. */
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
  };
  servers.set(server, {
    storage,
    waiters,
    isStopped: () => stopping !== undefined,
  });
  return server;
}

// Per-server state users need, kept off the public object.
const servers = new WeakMap();

/**
 * A simulated user of the bot with `options.token` (default: the server's
 * token). Replies are the bot's messages to `chatId` sent after this call.
 * Options: `{ id, firstName, chatId = id, username, chatType = "private",
 * token, timeoutMs = 5000 }`.
 */
export function user(server, options) {
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
  const mine = (m) => m.botToken === token && String(m.message.chat_id) === String(chatId);
  // Consume only messages newer than this user; message ids grow monotonically.
  let cursor = Math.max(
    0,
    ...state.storage.botMessages.filter(mine).map((m) => m.messageId),
  );

  const unread = () => state.storage.botMessages.filter((m) => mine(m) && m.messageId > cursor);
  const consume = (messages) => {
    if (messages.length > 0) cursor = messages[messages.length - 1].messageId;
    return messages.map((m) => ({
      messageId: m.messageId,
      chatId,
      text: typeof m.message.text === "string" ? m.message.text : undefined,
      replyMarkup: m.message.reply_markup,
      params: structuredClone(m.message),
    }));
  };
  const describe = () => `user ${options.id} (chat ${chatId})`;
  const assertRunning = () => {
    if (state.isStopped()) {
      throw new Error(`${describe()}: the telegram test server is stopped`);
    }
  };

  const self = {
    id: options.id,
    chatId,
    token,
    /** Sends a text message; resolves once the update is queued for the bot. */
    async sendText(text, extra = {}) {
      assertRunning();
      await server.emulator.addUserMessage(client.makeMessage(text, extra));
    },
    /** Sends a `/command args` message with a bot_command entity. */
    async sendCommand(command) {
      assertRunning();
      await server.emulator.addUserCommand(client.makeCommand(command));
    },
    /** Waits for and consumes the next bot message in this user's chat. */
    async nextReply(waitOptions) {
      const [reply] = await self.waitForReplies(1, waitOptions);
      return reply;
    },
    /** Waits for and consumes the next `count` bot messages, in order. */
    waitForReplies(count, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? defaultTimeoutMs;
      return new Promise((resolve, reject) => {
        const fail = (why) => {
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
        const waiter = {
          check() {
            const ready = unread();
            if (ready.length >= count) resolve(consume(ready.slice(0, count)));
            else if (state.isStopped()) {
              fail("the telegram test server stopped");
            } else return false;
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
    /** Consumes the bot messages that already arrived (no waiting). */
    takeReplies() {
      return consume(unread());
    },
  };
  return self;
}
