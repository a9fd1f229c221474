/**
 * src/lock.ts on its own: {@linkcode KeyedLock} (turns in order, releases,
 * refusals, deadlock cycles, the wait bound), {@linkcode lockFor} and
 * {@linkcode describeOwner}, called directly with plain objects as owners. How
 * updates use the lock is in deadlock_test.ts, concurrency_test.ts and
 * waits_test.ts.
 */
import assert from "node:assert/strict";
import { SessionError } from "../mod.ts";
import { describeOwner, KeyedLock, lockFor, type Release } from "../src/lock.ts";
import { within } from "./support/bot.ts";
import { captureWarnings } from "./support/console.ts";

/** A key that is held: the wait for it, as the promise it must be. */
function waitFor(
  lock: KeyedLock,
  key: string,
  owner: object,
  tenant?: { evicted(): void },
  bound?: number,
): Promise<Release> {
  const turn = lock.acquire(key, owner, tenant, bound);
  assert.ok(turn instanceof Promise, `"${key}" should be held, so the caller waits`);
  return turn;
}

/** A key that is free: the release, handed out at once. */
function take(lock: KeyedLock, key: string, owner: object): Release {
  const release = lock.acquire(key, owner);
  assert.equal(typeof release, "function", `"${key}" should be free, so no promise`);
  return release as Release;
}

/** Matches the SessionError of a refused wait for `key`. */
function refused(key: string, message: RegExp) {
  return (error: unknown) =>
    error instanceof SessionError && error.sessionKey === key && message.test(error.message);
}

/** A tenant that counts how often its key was taken away. */
function tenant() {
  const tenant = { evictions: 0, evicted: () => void tenant.evictions++ };
  return tenant;
}

Deno.test("acquire: a free key is granted at once, and is free again after its release", () => {
  const lock = new KeyedLock();
  const a = {};
  const release = take(lock, "k", a);
  assert.equal(lock.holderOf("k"), a);
  release();
  assert.equal(lock.holderOf("k"), undefined);
  take(lock, "k", {})();
});

Deno.test("acquire: waiters get the key one at a time, in the order they asked", async () => {
  const lock = new KeyedLock();
  const [a, b, c, d] = [{}, {}, {}, {}];
  const releaseA = take(lock, "k", a);
  const turns = [b, c, d].map((owner) => waitFor(lock, "k", owner));
  releaseA();
  for (const [index, owner] of [b, c, d].entries()) {
    const release = await within(turns[index]);
    assert.equal(lock.holderOf("k"), owner); // not yet handed on to the next one
    release();
  }
  assert.equal(lock.holderOf("k"), undefined);
});

Deno.test("release: calling it again, or after the key moved on, does not free the next holder's key", async () => {
  const lock = new KeyedLock();
  const [a, b, c] = [{}, {}, {}];
  const releaseA = take(lock, "k", a);
  const turnB = waitFor(lock, "k", b);
  releaseA();
  const releaseB = await within(turnB);
  releaseA();
  assert.equal(lock.holderOf("k"), b);
  const turnC = waitFor(lock, "k", c);
  releaseB();
  releaseB();
  const releaseC = await within(turnC);
  assert.equal(lock.holderOf("k"), c);
  releaseC();
  assert.equal(lock.holderOf("k"), undefined);
});

Deno.test("acquire: different keys never wait for each other; one owner may hold several", () => {
  const lock = new KeyedLock();
  const [a, b] = [{}, {}];
  const releases = [take(lock, "1", a), take(lock, "2", b), take(lock, "3", a)];
  assert.deepEqual(["1", "2", "3"].map((key) => lock.holderOf(key)), [a, b, a]);
  for (const release of releases) release();
});

Deno.test("acquire: asking again for a key the owner holds, or already waits for, is refused at once", async () => {
  const lock = new KeyedLock();
  const [a, b] = [{}, {}];
  const releaseA = take(lock, "k", a);
  assert.throws(() => lock.acquire("k", a), refused("k", /already held by this update/));
  const turnB = waitFor(lock, "k", b);
  assert.throws(() => lock.acquire("k", b), refused("k", /already held by this update/));
  // The refusals changed nothing: b is still next, and alone in line.
  releaseA();
  (await within(turnB))();
  assert.equal(lock.holderOf("k"), undefined);
});

Deno.test("deadlock: the wait that would close a cycle is refused with the cycle named; the other goes on", async () => {
  const lock = new KeyedLock();
  const [a, b] = [{}, {}];
  const releaseA1 = take(lock, "1", a);
  const releaseB2 = take(lock, "2", b);
  const turnA = waitFor(lock, "2", a);
  assert.throws(() => lock.acquire("1", b), refused("1", /Deadlock avoided.*cycle: 1 -> 2\)/));
  releaseB2();
  (await within(turnA))();
  releaseA1();
});

Deno.test("deadlock: a cycle through three owners is found; a chain without one is not", async () => {
  const lock = new KeyedLock();
  const [a, b, c, d] = [{}, {}, {}, {}];
  const releases = [take(lock, "x", a), take(lock, "y", b), take(lock, "z", c)];
  const turnA = waitFor(lock, "y", a);
  const turnB = waitFor(lock, "z", b);
  // d holds nothing: waiting at the end of the chain is fine.
  const turnD = waitFor(lock, "x", d);
  assert.throws(() => lock.acquire("x", c), refused("x", /cycle: x -> y -> z\)/));
  releases[2](); // c gives up z: b goes on, then a, then d
  (await within(turnB))();
  releases[1]();
  (await within(turnA))();
  releases[0]();
  (await within(turnD))();
});

Deno.test("deadlock: each key of an owner waiting for several at once counts, until it is granted", async () => {
  // a holds "1" and waits for "3" (held by b) and "2" (held by c) at once.
  const lock = new KeyedLock();
  const [a, b, c] = [{}, {}, {}];
  const releaseA1 = take(lock, "1", a);
  const releaseB3 = take(lock, "3", b);
  const releaseC2 = take(lock, "2", c);
  const both = Promise.all([waitFor(lock, "3", a), waitFor(lock, "2", a)]);
  assert.throws(() => lock.acquire("1", b), refused("1", /cycle: 1 -> 3\)/));
  assert.throws(() => lock.acquire("1", c), refused("1", /cycle: 1 -> 2\)/));

  releaseB3(); // hands "3" to a at once; a still waits for "2"
  assert.equal(lock.holderOf("3"), a);
  assert.throws(() => lock.acquire("1", c), refused("1", /cycle: 1 -> 2\)/));
  const turnB = waitFor(lock, "1", b); // b holds nothing now: a plain wait

  releaseC2();
  for (const release of await within(both)) release();
  releaseA1();
  (await within(turnB))();
});

Deno.test("deadlock: a wait that was granted no longer counts", async () => {
  // A stale "a waits for k" would make x -> a -> k -> d -> x look like a cycle.
  const lock = new KeyedLock();
  const [a, b, d, x] = [{}, {}, {}, {}];
  const releaseB = take(lock, "k", b);
  const turnA = waitFor(lock, "k", a);
  const turnD = waitFor(lock, "k", d);
  releaseB();
  const releaseAk = await within(turnA);
  const releaseAa = take(lock, "a", a);
  releaseAk(); // k moves on to d
  const releaseDk = await within(turnD);
  const releaseX = take(lock, "x", x);
  const turnDx = waitFor(lock, "x", d);
  const turnXa = waitFor(lock, "a", x); // a waits for nothing: no cycle
  releaseAa();
  const releaseXa = await within(turnXa);
  releaseX();
  (await within(turnDx))();
  releaseXa();
  releaseDk();
});

Deno.test("deadlock: a cycle through the lock tables of two storages is found", async () => {
  const first = lockFor({});
  const second = lockFor({});
  const [a, b] = [{}, {}];
  const releaseA = take(first, "k", a);
  const releaseB = take(second, "k", b); // the same key name in another table: free
  const turnA = waitFor(second, "k", a);
  assert.throws(() => first.acquire("k", b), refused("k", /cycle: k -> k\)/));
  releaseB();
  (await within(turnA))();
  releaseA();
});

Deno.test("lockFor: one table per storage object", () => {
  const storage = {};
  assert.equal(lockFor(storage), lockFor(storage));
  assert.notEqual(lockFor(storage), lockFor({}));
});

Deno.test({
  name: "bound: a release before the bound disarms it; no bound arms no timer",
  sanitizeOps: true, // a timer left behind fails the test
  async fn() {
    const lock = new KeyedLock();
    const [a, b, c] = [{}, {}, {}];
    const holder = tenant();
    const releaseA = lock.acquire("k", a, holder) as Release;
    const turnB = waitFor(lock, "k", b, undefined, 60_000);
    releaseA();
    const releaseB = await within(turnB);
    const turnC = waitFor(lock, "k", c); // bound Infinity: no timer at all
    releaseB();
    (await within(turnC))();
    assert.equal(holder.evictions, 0);
  },
});

Deno.test("bound: a holder past a waiter's bound loses the key; it is told and its release does nothing", async () => {
  const lock = new KeyedLock();
  const a = { updateId: 7, updateType: "message" };
  const [b, c] = [{}, {}];
  const tenants = [tenant(), tenant()];
  const releaseA = lock.acquire("k", a, tenants[0]) as Release;
  let releaseB: Release | undefined;
  let releaseC: Release | undefined;
  const warnings = await captureWarnings(async () => {
    const turnB = waitFor(lock, "k", b, tenants[1], 10);
    const turnC = waitFor(lock, "k", c, undefined, 10);
    releaseB = await within(turnB);
    assert.equal(lock.holderOf("k"), b);
    assert.deepEqual(tenants.map((t) => t.evictions), [1, 0]);
    releaseA(); // taken away already: must not free b's key
    assert.equal(lock.holderOf("k"), b);
    // After the hand-over, c's bound runs against b.
    releaseC = await within(turnC);
  });
  assert.equal(lock.holderOf("k"), c);
  assert.deepEqual(tenants.map((t) => t.evictions), [1, 1]);
  releaseB!();
  assert.equal(lock.holderOf("k"), c);
  releaseC!();
  assert.equal(lock.holderOf("k"), undefined);
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0],
    /update 7 \(message\) held session "k" for more than 10 ms \(lockTimeout\) while a sessionStore\(\) call waited/,
  );
});

Deno.test("describeOwner names an update by id and type, anything else as a sessionStore call", () => {
  assert.equal(
    describeOwner({ updateId: 5, updateType: "callback_query" }),
    "update 5 (callback_query)",
  );
  assert.equal(describeOwner({ updateId: 5 }), "update 5 (update)");
  assert.equal(describeOwner({}), "a sessionStore() call");
});
