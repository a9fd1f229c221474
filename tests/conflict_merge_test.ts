/**
 * The conflict policy (src/conflict.ts) called directly: resolveConflict per
 * `onConflict`, mergeFields, assertClearStands and retryWithBackoff. Then,
 * through a real bot, the merge after a conflict reads the other process's
 * save with the load's own decoding: data that cannot be a session is
 * `SessionDataError` there too (or, with `onInvalidData: "reset"`, merged
 * into `initial()`), never silently replaced.
 */
import assert from "node:assert/strict";
import { takeSnapshot } from "../src/change_detection/mod.ts";
import {
  assertClearStands,
  MAX_SAVE_ATTEMPTS,
  mergeFields,
  resolveConflict,
  retryWithBackoff,
} from "../src/conflict.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import { inMemoryStorage, session, SessionConflictError, SessionDataError } from "../mod.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

const never = (): never => {
  throw new Error("not to be called");
};

Deno.test("mergeFields: their save plus the fields this update changed, set or deleted", () => {
  const base = takeSnapshot({ a: 1, b: 1, gone: true });
  const ours = { a: 2, b: 1 }; // changed a, deleted gone
  const theirs = { a: 1, b: 5, gone: true, added: "x" };
  const { data, base: next } = mergeFields("42", base, ours, theirs);
  assert.deepEqual(data, { a: 2, b: 5, added: "x" });
  assert.notEqual(data, theirs, "their object is not changed");
  assert.deepEqual(theirs, { a: 1, b: 5, gone: true, added: "x" });
  assert.deepEqual(next, takeSnapshot(theirs), "the next conflict is judged against their save");
});

Deno.test("mergeFields: a field both changed is a SessionConflictError naming it", () => {
  const base = takeSnapshot({ a: 1, list: [1] });
  assert.throws(
    () => mergeFields("42", base, { a: 2, list: [1, 2] }, { a: 1, list: [1, 3] }),
    (error) =>
      error instanceof SessionConflictError && error.sessionKey === "42" &&
      error.fields.join() === "list",
  );
});

Deno.test("mergeFields: a field named __proto__ is merged as an own field", () => {
  const base = takeSnapshot({});
  const ours = JSON.parse('{"__proto__": {"polluted": true}}');
  const { data } = mergeFields("42", base, ours, {});
  assert.ok(Object.hasOwn(data, "__proto__"));
  assert.equal(Object.getPrototypeOf(data), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("resolveConflict: overwrite keeps ours and error refuses, neither decodes their save", async () => {
  const ours = { base: takeSnapshot({ a: 1 }), data: { a: 2 }, clearedBase: undefined };
  const kept = await resolveConflict("overwrite", "42", ours, never, never);
  assert.equal(kept.data, ours.data);
  assert.equal(kept.base, ours.base);
  await assert.rejects(
    resolveConflict("error", "42", ours, never, never),
    (error) => error instanceof SessionConflictError && error.fields.length === 0,
  );
});

Deno.test("resolveConflict: merge into initial() when their session is gone", async () => {
  const ours = { base: takeSnapshot({ a: 0 }), data: { a: 1 }, clearedBase: undefined };
  const merged = await resolveConflict(
    "merge",
    "42",
    ours,
    () => undefined,
    () => Promise.resolve({ a: 0, c: 5 }),
  );
  assert.deepEqual(merged.data, { a: 1, c: 5 });
});

Deno.test("resolveConflict: a $clear() goes ahead only if their save changed nothing it read", async () => {
  const read = takeSnapshot({ a: 1 });
  const ours = { base: takeSnapshot({}), data: {}, clearedBase: read };
  const unchanged = await resolveConflict("merge", "42", ours, () => ({ a: 1 }), never);
  assert.equal(unchanged.data, ours.data);
  const deleted = await resolveConflict("merge", "42", ours, () => undefined, never);
  assert.equal(deleted.data, ours.data);
  await assert.rejects(
    resolveConflict("merge", "42", ours, () => ({ a: 2 }), never),
    (error) =>
      error instanceof SessionConflictError && error.fields.join() === "a" &&
      error.message.includes("$clear() was not applied"),
  );
});

Deno.test("assertClearStands: names every field their save changed", () => {
  const read = takeSnapshot({ a: 1, b: 1, c: 1 });
  assert.doesNotThrow(() => assertClearStands("42", read, undefined));
  assert.doesNotThrow(() => assertClearStands("42", read, { a: 1, b: 1, c: 1 }));
  assert.throws(
    () => assertClearStands("42", read, { a: 2, b: 1 }),
    (error) => error instanceof SessionConflictError && error.fields.join() === "a,c",
  );
});

Deno.test("retryWithBackoff: stops at the first success, else gives up after `tries`", async () => {
  const seen: number[] = [];
  await retryWithBackoff("42", 5, (retry) => {
    seen.push(retry);
    return Promise.resolve(retry === 2);
  });
  assert.deepEqual(seen, [0, 1, 2]);

  let calls = 0;
  await assert.rejects(
    retryWithBackoff("42", 3, () => {
      calls++;
      return Promise.resolve(false);
    }),
    (error) =>
      error instanceof SessionConflictError &&
      error.message.includes(`Gave up after ${MAX_SAVE_ATTEMPTS} attempts`),
  );
  assert.equal(calls, 3);
});

/** What another instance saves while the handler runs, and what the merge should make of it. */
const unusable = [
  { name: "a number", value: 42 },
  { name: "undecodable", value: { [ENVELOPE_MARK]: 1, data: "{{", encoding: "devalue" } },
];

for (const { name, value } of unusable) {
  Deno.test(`merge after a conflict: ${name} saved meanwhile is SessionDataError, as on load`, async () => {
    const storage = inMemoryStorage();
    const bot = testBot()
      .extend(session({ storage, initial: () => ({ count: 0, other: 0 }) }))
      .on("message", async (ctx) => {
        ctx.session.count++;
        await storage.set("1", value); // another instance, during this update
      });
    await bot.updates.handleUpdate(updates.message(1));
    const [error, ...more] = errorsOf(bot);
    assert.ok(error instanceof SessionDataError, String(error));
    assert.equal(error.sessionKey, "1");
    assert.deepEqual(more, []);
    assert.deepEqual(storage.get("1"), value, "their save is left as it is");

    // The load says the same about it.
    const reader = testBot().extend(session({ storage })).on("message", () => {});
    await reader.updates.handleUpdate(updates.message(1));
    assert.ok(errorsOf(reader)[0] instanceof SessionDataError);
  });

  Deno.test(`merge after a conflict: ${name} saved meanwhile, onInvalidData reset: merged into initial()`, async () => {
    const storage = inMemoryStorage();
    const bot = testBot()
      .extend(session({ storage, onInvalidData: "reset", initial: () => ({ count: 0, other: 7 }) }))
      .on("message", async (ctx) => {
        ctx.session.count++;
        await storage.set("1", value);
      });
    await bot.updates.handleUpdate(updates.message(1));
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(storage.get("1"), { count: 1, other: 7 });
  });
}
