// session() with a plugin that goes on with an update later, from a timer
// (@gramio/media-group), on real GramIO bots: tests/support/media_group_like.ts
// plays media-group.
import assert from "node:assert/strict";
import { inMemoryStorage, session, SessionError, SessionStorageError } from "../mod.ts";
import {
  countingStorage,
  errorsOf,
  gate,
  mapStorage,
  testBot,
  totals,
  updates,
  within,
} from "./support/bot.ts";
import { mediaGroupLike } from "./support/media_group_like.ts";

const album = (from: number, id: string, count: number) =>
  Array.from(
    { length: count },
    (_, i) => updates.message(from, `photo ${i + 1}`, from, { media_group_id: id }),
  );

/** Records unhandled rejections for the duration of `run` (they would end the process). */
async function noUnhandledRejections(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (event: PromiseRejectionEvent) => {
    seen.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", listener);
  try {
    await run();
    // Rejections are reported after the microtask queue drains.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    globalThis.removeEventListener("unhandledrejection", listener);
  }
  return seen;
}

for (const lazy of [false, true]) {
  const mode = lazy ? "lazy" : "eager";
  Deno.test(`media-group before session (${mode}): the album handler gets a working session, saved once`, async () => {
    const storage = countingStorage(inMemoryStorage());
    const handled = gate();
    const seen: number[] = [];
    const bot = testBot()
      .extend(mediaGroupLike())
      .extend(session({ storage, lazy, initial: () => ({ albums: 0, photos: 0 }) }))
      .on("message", async (context) => {
        const s = await (context as unknown as { session: { albums: number; photos: number } })
          .session;
        const group = (context as unknown as { mediaGroup?: unknown[] }).mediaGroup;
        s.albums++;
        s.photos += group?.length ?? 1;
        seen.push(group?.length ?? 1);
        handled.open();
      });
    const rejections = await noUnhandledRejections(async () => {
      await Promise.all(album(21, "a1", 3).map((u) => bot.updates.handleUpdate(u)));
      await within(handled.promise);
      await within(bot.updates.handleUpdate(updates.message(21, "text")));
    });
    assert.deepEqual(rejections, []);
    assert.deepEqual(errorsOf(bot), []);
    assert.deepEqual(seen, [3, 1]);
    assert.deepEqual(await storage.get("21"), { albums: 2, photos: 4 });
    assert.equal(totals(storage.calls).writes, 2); // one per handled update
  });

  Deno.test(`media-group after session (${mode}): every update is refused with the order to use`, async () => {
    const storage = countingStorage(inMemoryStorage());
    let ran = 0;
    const bot = testBot()
      .extend(session({ storage, lazy, initial: () => ({ n: 0 }) }))
      .extend(mediaGroupLike())
      .on("message", () => void ran++);
    await bot.updates.handleUpdate(updates.message(22, "text"));
    await bot.updates.handleUpdate(album(22, "a2", 1)[0]);
    assert.equal(ran, 0);
    assert.deepEqual(totals(storage.calls), { reads: 0, writes: 0, deletes: 0 });
    const errors = errorsOf(bot);
    assert.equal(errors.length, 2);
    for (const error of errors) {
      assert.ok(error instanceof SessionError);
      assert.match(error.message, /@gramio\/media-group is registered after session/);
      assert.match(error.message, /extend\(mediaGroup\(\)\)\.extend\(session/);
    }
  });
}

Deno.test("media-group before session: a failed save of an album reaches onError, not an unhandled rejection", async () => {
  // Fault injection: every write fails.
  const failing = { ...mapStorage(), set: () => Promise.reject(new Error("disk full")) };
  const reported = gate();
  const bot = testBot()
    .extend(mediaGroupLike())
    .extend(session({ storage: failing, initial: () => ({ n: 0 }) }))
    .on("message", (context) => void context.session.n++)
    .onError(() => reported.open());
  const rejections = await noUnhandledRejections(async () => {
    await Promise.all(album(23, "a3", 2).map((u) => bot.updates.handleUpdate(u)));
    await within(reported.promise);
  });
  assert.deepEqual(rejections, []);
  const [error] = errorsOf(bot);
  assert.ok(error instanceof SessionStorageError, String(error));
  assert.equal(error.operation, "write");
});
