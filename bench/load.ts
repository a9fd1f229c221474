/**
 * Load test: 10,000 message updates over 500 users, all in flight at once,
 * through a real GramIO bot with sessions on a Deno KV file. Every handler
 * reads its count, awaits, and writes count + 1 (the pattern that loses
 * updates without per-key locking). Checks that every user's count is exact
 * and prints throughput and storage calls per update.
 *
 *   deno run -A bench/load.ts [updates] [users]
 */

import { Bot, type TelegramUpdate } from "gramio";
import { denoKvStorage, session, type Storage } from "../mod.ts";

const UPDATES = Number(Deno.args[0] ?? 10_000);
const USERS = Number(Deno.args[1] ?? 500);

/** Counts calls to a real storage (reads, writes, deletes). */
function counted(inner: Storage & Record<string, unknown>) {
  const calls = { reads: 0, writes: 0 };
  const wrap = <F extends (...args: never[]) => unknown>(fn: F, kind: "reads" | "writes") =>
    ((...args: never[]) => {
      calls[kind]++;
      return fn(...args);
    }) as unknown as F;
  const storage = {
    ...inner,
    get: wrap(inner.get, "reads"),
    set: wrap(inner.set, "writes"),
    getVersioned: wrap(inner.getVersioned as (key: string) => Promise<unknown>, "reads"),
    setIfVersion: wrap(inner.setIfVersion as () => Promise<boolean>, "writes"),
  } as Storage;
  return { storage, calls };
}

const dir = await Deno.makeTempDir({ prefix: "gramio-session-load-" });
const kv = await Deno.openKv(`${dir}/sessions.db`);
const { storage, calls } = counted(
  denoKvStorage(kv) as unknown as Storage & Record<string, unknown>,
);
const errors: unknown[] = [];
const bot = new Bot("1:load", { info: { id: 1, is_bot: true, first_name: "Load" } })
  .extend(session({ storage, initial: () => ({ count: 0 }) }))
  .on("message", async (context) => {
    const n = context.session.count;
    await Promise.resolve();
    context.session.count = n + 1;
  })
  .onError(({ error }) => void errors.push(error));

const updates: TelegramUpdate[] = Array.from({ length: UPDATES }, (_, i) => {
  const user = 1 + (i % USERS);
  return {
    update_id: i + 1,
    message: {
      message_id: i + 1,
      date: 1_700_000_000,
      chat: { id: user, type: "private", first_name: "U" },
      from: { id: user, is_bot: false, first_name: "U" },
      text: "load",
    },
  };
});

const start = performance.now();
await Promise.all(updates.map((update) => bot.updates.handleUpdate(update)));
const seconds = (performance.now() - start) / 1000;

let exact = 0;
const expected = (user: number) => Math.floor(UPDATES / USERS) + (user <= UPDATES % USERS ? 1 : 0);
for (let user = 1; user <= USERS; user++) {
  const stored = (await kv.get(["gramio-session", String(user)])).value as { count: number } | null;
  if (stored?.count === expected(user)) exact++;
}
kv.close();
await Deno.remove(dir, { recursive: true });

console.log(`load test: ${UPDATES} updates, ${USERS} users, all concurrent, Deno KV file`);
console.log(
  `  time            ${seconds.toFixed(2)} s  (${(UPDATES / seconds).toFixed(0)} updates/s)`,
);
console.log(`  exact counts    ${exact} / ${USERS} users`);
console.log(`  errors          ${errors.length}`);
console.log(
  `  storage calls   ${(calls.reads / UPDATES).toFixed(2)} reads + ${
    (calls.writes / UPDATES).toFixed(2)
  } writes per update`,
);
const ok = exact === USERS && errors.length === 0;
console.log(ok ? "PASS every count exact" : "FAIL counts lost or errors");
if (!ok) Deno.exit(1);
