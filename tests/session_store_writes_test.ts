/**
 * sessionStore's writes on awkward records: delete removes records it cannot
 * read, and update resolves to the session as saved, also after a merge.
 * Each of these once lost data, hung, or misreported.
 */
import assert from "node:assert/strict";
import { inMemoryStorage, sessionStore } from "../mod.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { secondHandle } from "./support/bot.ts";

Deno.test("sessionStore.delete removes records that cannot be read", async () => {
  const storage = inMemoryStorage();
  await storage.set("7", "garbage");
  await storage.set("8", { [ENVELOPE_MARK]: 1, version: 99, data: {} });
  const store = sessionStore({ storage, migrations: { 1: (old: object) => old } });
  await store.delete("7");
  await store.delete("8");
  assert.equal(await storage.has("7"), false);
  assert.equal(await storage.has("8"), false);
});

Deno.test("sessionStore.update resolves to the session as saved, after a merge too", async () => {
  const shared = inMemoryStorage();
  await shared.set("9", { a: 0, b: 0 });
  const other = secondHandle(shared); // another instance: its own lock table
  const result = await sessionStore<{ a: number; b: number }>({ storage: shared }).update(
    "9",
    async (s) => {
      s.a = 1;
      await sessionStore<{ a: number; b: number }>({ storage: other }).update(
        "9",
        (t) => void (t.b = 1),
      );
    },
  );
  assert.deepEqual(result, { a: 1, b: 1 });
  assert.deepEqual(await shared.get("9"), { a: 1, b: 1 });
});
