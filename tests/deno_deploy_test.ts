// examples/deno_deploy.ts as Telegram sees it: a webhook server on
// Deno.serve, receiving updates as JSON POSTs with the secret token header,
// calling the Bot API (telegram-test-api here), with sessions in Deno KV.
// The last test runs the file as deployed (`deno run`, default storage).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { TelegramUpdate } from "gramio";
import { denoKvStorage } from "../mod.ts";
import { startWebhookServer, type WebhookServer } from "../examples/deno_deploy.ts";
import { updates } from "./support/bot.ts";
import { startTelegramServer, type TelegramTestServer } from "./support/telegram.ts";

const SECRET = "test-webhook-secret";

/** The webhook server on a free port of 127.0.0.1, sessions in the KV file at `path`. */
async function startWebhook(
  telegram: TelegramTestServer,
  path: string,
): Promise<{ url: string; web: WebhookServer; kv: Deno.Kv } & AsyncDisposable> {
  const kv = await Deno.openKv(path);
  const web = startWebhookServer({
    token: telegram.token,
    api: telegram.api,
    storage: denoKvStorage(kv),
    secretToken: SECRET,
    serve: { port: 0, hostname: "127.0.0.1", onListen() {} },
  });
  return {
    url: `http://127.0.0.1:${web.server.addr.port}/`,
    web,
    kv,
    async [Symbol.asyncDispose]() {
      await web.stop();
      kv.close();
    },
  };
}

/** POSTs an update the way Telegram does. */
async function post(
  url: string,
  update: TelegramUpdate,
  secret: string | null = SECRET,
): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers["x-telegram-bot-api-secret-token"] = secret;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(update) });
  await response.body?.cancel();
  return response.status;
}

Deno.test("deno_deploy example: webhook updates get replies, sessions persist in KV across two server starts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-deploy-" });
  const path = `${dir}/sessions.sqlite3`;
  try {
    await using telegram = await startTelegramServer();
    const alice = telegram.user({ id: 4001, firstName: "Alice" });
    const bob = telegram.user({ id: 4002, firstName: "Bob" });
    /** POSTs a message from `who`; the reply is already sent when the POST is answered. */
    const say = async (
      url: string,
      who: typeof alice,
      text: string,
    ): Promise<string | undefined> => {
      assert.equal(await post(url, updates.message(who.id, text)), 200);
      const replies = who.takeReplies();
      assert.equal(replies.length, 1, "one reply, sent before the webhook answered");
      return replies[0].text;
    };

    {
      await using first = await startWebhook(telegram, path);
      const health = await fetch(first.url);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), "The bot is running.");

      assert.equal(await say(first.url, alice, "hi"), "apple count is 2");
      assert.equal(await say(first.url, alice, "hi"), "apple count is 3");
      assert.equal(await say(first.url, bob, "hello"), "apple count is 2");

      // Without (or with a wrong) secret token: refused, nothing handled.
      assert.equal(await post(first.url, updates.message(alice.id, "forged"), null), 401);
      assert.equal(await post(first.url, updates.message(alice.id, "forged"), "wrong"), 401);
      assert.deepEqual(alice.takeReplies(), []);

      // Telegram may deliver one user's updates on parallel connections:
      // both increments land, each reply shows a different count.
      const statuses = await Promise.all([
        post(first.url, updates.message(alice.id, "a")),
        post(first.url, updates.message(alice.id, "b")),
      ]);
      assert.deepEqual(statuses, [200, 200]);
      assert.deepEqual(alice.takeReplies().map((r) => r.text).sort(), [
        "apple count is 4",
        "apple count is 5",
      ]);
    }

    // A new deployment (or a cold isolate): same KV database, counts go on.
    {
      await using second = await startWebhook(telegram, path);
      assert.equal(await say(second.url, alice, "back"), "apple count is 6");
      assert.equal(await say(second.url, bob, "back"), "apple count is 3");
      assert.deepEqual(await denoKvStorage(second.kv).get("4001"), { apple: 6 });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const DEPLOY_SCRIPT = fileURLToPath(new URL("../examples/deno_deploy.ts", import.meta.url));
const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));

/** Where `Deno.openKv()` without a path keeps the database of `origin` (a `--location`). */
async function defaultKvDir(origin: string): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" })
    .output();
  const { originStorage } = JSON.parse(new TextDecoder().decode(info.stdout));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(origin));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${originStorage}/${hex}`;
}

/** `deno run -A examples/deno_deploy.ts` with only env vars; resolves once it listens. */
async function startDeployProcess(telegram: TelegramTestServer, origin: string) {
  const child = new Deno.Command(Deno.execPath(), {
    // --location gives this test its own default KV database (see defaultKvDir).
    args: ["run", "-A", `--location=${origin}`, DEPLOY_SCRIPT],
    cwd: PROJECT_DIR,
    env: {
      BOT_TOKEN: telegram.token,
      TELEGRAM_API_URL: telegram.apiURL,
      WEBHOOK_SECRET: SECRET,
      PORT: "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  // Deno.serve announces its address on stderr; a server that never does is
  // killed after 20 s, which ends the stream.
  const deadline = setTimeout(() => child.kill(), 20_000);
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  let port: number | undefined;
  try {
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the server exited before listening:\n${await stdout}\n${stderr}`);
      stderr += value;
      const match = /Listening on https?:\/\/\S*?:(\d+)/.exec(stderr);
      if (match) port = Number(match[1]);
    }
  } finally {
    clearTimeout(deadline);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
      await stdout;
    },
  };
}

Deno.test("deno_deploy example as deployed: only env vars, sessions in the default Deno KV, counts survive a restart", async () => {
  const origin = `http://${crypto.randomUUID()}.gramio-session.test`;
  const kvDir = await defaultKvDir(origin);
  try {
    await using telegram = await startTelegramServer();
    const alice = telegram.user({ id: 4101, firstName: "Alice" });
    const say = async (url: string, text: string) => {
      assert.equal(await post(url, updates.message(alice.id, text)), 200);
      return alice.takeReplies().map((r) => r.text);
    };
    {
      await using first = await startDeployProcess(telegram, origin);
      assert.equal(await post(first.url, updates.message(alice.id, "forged"), null), 401);
      assert.deepEqual(await say(first.url, "hi"), ["apple count is 2"]);
      assert.deepEqual(await say(first.url, "hi"), ["apple count is 3"]);
    }
    {
      await using second = await startDeployProcess(telegram, origin);
      assert.deepEqual(await say(second.url, "back"), ["apple count is 4"]);
    }
    // The sessions are in Deno.openKv()'s default database, not in memory.
    using kv = await Deno.openKv(`${kvDir}/kv.sqlite3`);
    assert.deepEqual(await denoKvStorage(kv).get(String(alice.id)), { apple: 4 });
  } finally {
    await Deno.remove(kvDir, { recursive: true }).catch(() => {});
  }
});
