/**
 * Attacks on per-field change tracking (issue 16) by a careless or hostile
 * bot author, through real GramIO bots on inMemoryStorage, a Deno KV
 * (":memory:") and a plain Map-backed storage. Each test runs every backend
 * and fails naming the backends that broke.
 */
import assert from "node:assert/strict";
import {
  denoKvStorage,
  inMemoryStorage,
  type Migrations,
  session,
  SessionConflictError,
  sessionStore,
  type Storage,
  type VersionedStorage,
} from "../mod.ts";
import { isVersionedStorage } from "../src/storage.ts";
import { errorsOf, gate, mapStorage, secondHandle, testBot, updates } from "./support/bot.ts";

// deno-lint-ignore no-explicit-any
type S = any;
interface Entry {
  id: number;
  at: Date;
  text: string;
}
const entries = (n: number, tag = "h"): Entry[] =>
  Array.from({ length: n }, (_, id) => ({ id, at: new Date(id * 1000), text: `${tag} ${id}` }));

/** A stored session with large fields (accessors) and small ones. */
function seed(): Record<string, unknown> {
  return {
    count: 1,
    cart: { items: ["a"] },
    history: entries(100),
    log: entries(100, "log"),
    seen: new Set(Array.from({ length: 100 }, (_, i) => i)),
    counters: new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])),
    bytes: new Uint8Array(4096),
    when: new Date(0),
  };
}
const initial = (): Record<string, unknown> => ({
  count: 0,
  cart: { items: [] },
  history: [],
  log: [],
  seen: new Set(),
  counters: new Map(),
  bytes: new Uint8Array(0),
  when: new Date(0),
});
const extra: Entry = { id: -1, at: new Date(5), text: "extra" };

interface Backend {
  name: string;
  storage: Storage;
  /** A number that moves with every write. */
  writes(): Promise<string>;
  close(): Promise<void>;
}

async function backends(value: Record<string, unknown> | undefined = seed()): Promise<Backend[]> {
  const memory = inMemoryStorage();
  const kv = await Deno.openKv(":memory:");
  const onKv = denoKvStorage(kv);
  const inner = mapStorage();
  let sets = 0;
  const map: Storage = {
    richValues: true,
    get: (k) => inner.get(k),
    set: (k, v, o) => (sets++, inner.set(k, v, o)),
    has: (k) => inner.has(k),
    delete: (k) => (sets++, inner.delete(k)),
  };
  const version = (s: VersionedStorage) => async () => String((await s.getVersioned("7")).version);
  const all: Backend[] = [
    { name: "memory", storage: memory, writes: version(memory), close: async () => {} },
    {
      name: "deno kv",
      storage: onKv,
      writes: version(onKv),
      close: () => Promise.resolve(kv.close()),
    },
    {
      name: "map",
      storage: map,
      writes: () => Promise.resolve(String(sets)),
      close: async () => {},
    },
  ];
  if (value) { for (const b of all) await b.storage.set("7", structuredClone(value)); }
  return all;
}

/** Runs `attack` on each backend; fails listing every backend that broke. */
async function onEach(
  attack: (b: Backend) => Promise<void>,
  only?: (b: Backend) => boolean,
  value?: Record<string, unknown>,
): Promise<void> {
  const failures: string[] = [];
  for (const b of await backends(value)) {
    if (only && !only(b)) continue;
    try {
      await attack(b);
    } catch (error) {
      failures.push(`[${b.name}] ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await b.close();
    }
  }
  if (failures.length) throw new Error(failures.join("\n---\n"));
}

type Handler = (s: S, ctx: S) => unknown;

function botOn(storage: Storage, handler: Handler, options: Record<string, unknown> = {}) {
  return testBot()
    .extend(session({ storage, initial, ...options }))
    .on("message", (ctx) => handler(ctx.session, ctx));
}

async function send(bot: ReturnType<typeof botOn>, user = 7, text = "hi") {
  await bot.updates.handleUpdate(updates.message(user, text));
}

/** The session of `user` as the next update reads it (a structured clone). */
async function readBack(storage: Storage, user = 7, options = {}): Promise<S> {
  let seen: S;
  const bot = botOn(storage, (s) => void (seen = structuredClone(s)), options);
  await send(bot, user);
  assert.deepEqual(errorsOf(bot), [], "reading back failed");
  return seen;
}

/** One update with `handler`; returns whether it wrote, and the bot's errors. */
async function once(b: Backend, handler: Handler, options = {}) {
  const before = await b.writes();
  const bot = botOn(b.storage, handler, options);
  await send(bot);
  return { wrote: before !== await b.writes(), errors: errorsOf(bot) };
}

function expectSaved(what: string, handler: Handler, expect: (d: S) => void) {
  return async (b: Backend) => {
    const { wrote, errors } = await once(b, handler);
    assert.deepEqual(errors, [], `${what}: handler errors`);
    assert.ok(wrote, `${what}: nothing written`);
    const want = seed();
    expect(want);
    assert.deepEqual(await readBack(b.storage), want, `${what}: stored value`);
  };
}

function expectNoWrite(what: string, handler: Handler) {
  return async (b: Backend) => {
    const { wrote, errors } = await once(b, handler);
    assert.deepEqual(errors, [], `${what}: handler errors`);
    assert.ok(!wrote, `${what}: a read-only update wrote`);
    assert.deepEqual(await readBack(b.storage), seed(), `${what}: stored value`);
  };
}

async function cases(list: Array<[string, (b: Backend) => Promise<void>]>) {
  const failures: string[] = [];
  for (const [what, attack] of list) {
    try {
      await onEach(attack);
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  }
  if (failures.length) throw new Error(failures.join("\n=====\n"));
}

Deno.test("attack: references kept past the update (a field, ctx.session) change nothing later", async () => {
  await onEach(async (b) => {
    let keptSession: S;
    let keptHistory: S;
    let keptCart: S;
    const bot = botOn(b.storage, (s, ctx) => {
      if (ctx.text === "keep") {
        keptSession = s;
        keptHistory = s.history;
        keptCart = s.cart;
        s.count++;
        return;
      }
      // In the next update: the old references are changed again.
      keptHistory.push(extra);
      keptSession.count = 99;
      keptCart.items.push("next");
    });
    await send(bot, 7, "keep");
    keptHistory.push(extra);
    keptSession.count = 50;
    keptSession.log.push(extra); // never read in the update: an accessor read late
    keptSession.cart.items.push("late");
    keptSession.seen.add(-1);
    await send(bot, 7, "again");
    const got = await readBack(b.storage);
    const want = { ...seed(), count: 2 };
    assert.deepEqual(got, want);
  });
});

Deno.test("attack: two users whose initial() returns the very same object share nothing", async () => {
  const shared: S = { ...initial(), history: entries(100) };
  await onEach(
    async (b) => {
      const bot = testBot()
        .extend(session({ storage: b.storage, initial: () => shared }))
        .on("message", (ctx) => {
          const s = ctx.session as S;
          if (ctx.text === "write") {
            s.history.push(extra);
            (Object.values(s)[3] as Entry[]).push(extra); // log, via Object.values
            s.count = 5;
          }
        });
      await send(bot, 8, "write");
      await send(bot, 9, "read");
      assert.deepEqual(errorsOf(bot), []);
      const nine = await readBack(b.storage, 9, { initial: () => shared });
      assert.equal(nine.count, 0);
      assert.equal(nine.history.length, 100);
      assert.equal(nine.log.length, 0);
      const eight = await readBack(b.storage, 8, { initial: () => shared });
      assert.equal(eight.history.length, 101);
      assert.equal(eight.log.length, 1);
      assert.equal(shared.history.length, 100);
      assert.equal((shared.log as unknown[]).length, 0);
    },
    undefined,
    undefined,
  );
});

Deno.test("attack: untouched large fields reached indirectly, then changed: saved", async () => {
  await cases([
    [
      "Object.values",
      expectSaved("values", (s) => {
        (Object.values(s)[2] as Entry[]).push(extra);
      }, (d) => d.history.push(extra)),
    ],
    [
      "Object.entries",
      expectSaved("entries", (s) => {
        (Object.entries(s).find(([k]) => k === "counters")![1] as Map<string, number>).set(
          "new",
          1,
        );
      }, (d) => d.counters.set("new", 1)),
    ],
    [
      "for...in",
      expectSaved("for-in", (s) => {
        for (const k in s) if (k === "seen") s[k].delete(3);
      }, (d) => d.seen.delete(3)),
    ],
    [
      "Reflect.get",
      expectSaved("Reflect.get", (s) => {
        Reflect.get(s, "bytes")[7] = 9;
      }, (d) => d.bytes[7] = 9),
    ],
    [
      "descriptor getter",
      expectSaved("descriptor", (s) => {
        const d = Object.getOwnPropertyDescriptor(s, "log")!;
        (d.get ? d.get.call(s) : d.value).push(extra);
      }, (d) => d.log.push(extra)),
    ],
    [
      "destructuring",
      expectSaved("destructuring", (s) => {
        const { history } = s;
        history[3].at.setTime(77);
      }, (d) => d.history[3].at.setTime(77)),
    ],
    [
      "spread shares the arrays",
      expectSaved("spread", (s) => {
        ({ ...s }).history.pop();
      }, (d) => d.history.pop()),
    ],
    [
      "Object.assign",
      expectSaved("assign", (s) => {
        Object.assign({}, s).log[0].text = "changed";
      }, (d) => d.log[0].text = "changed"),
    ],
    [
      "Object.create(session)",
      expectSaved("inherit", (s) => {
        Object.create(s).history.push(extra);
      }, (d) => d.history.push(extra)),
    ],
    [
      "Map/Set/Date/typed array in touched fields",
      expectSaved("rich", (s) => {
        s.counters.delete("k0");
        s.seen.add(1000);
        s.when.setFullYear(2001);
        s.bytes.fill(1, 0, 10);
      }, (d) => {
        d.counters.delete("k0");
        d.seen.add(1000);
        d.when.setFullYear(2001);
        d.bytes.fill(1, 0, 10);
      }),
    ],
  ]);
});

Deno.test("attack: reading everything in every way writes nothing", async () => {
  await cases([
    [
      "JSON + spread + values + entries + for-in",
      expectNoWrite("read", (s) => {
        JSON.stringify(s);
        void { ...s };
        Object.values(s);
        Object.entries(s);
        for (const k in s) void s[k];
        Object.getOwnPropertyDescriptors(s);
        void [...s.counters.entries()];
        void [...s.seen];
        void s.when.getTime();
        void s.bytes.reduce((a: number, x: number) => a + x, 0);
      }),
    ],
    [
      "mutating a structuredClone / JSON copy",
      expectNoWrite("clones", (s) => {
        const c = structuredClone(s);
        c.history.push(extra);
        c.count = 100;
        const j = JSON.parse(JSON.stringify(s));
        j.log.length = 0;
      }),
    ],
    [
      "the history replaced by an equal copy",
      expectNoWrite("equal copy", (s) => {
        s.history = structuredClone(s.history);
        s.counters = new Map(s.counters);
      }),
    ],
    [
      "ctx.session = {...ctx.session}",
      expectNoWrite("reassign", (s, ctx) => {
        ctx.session = { ...s };
      }),
    ],
    [
      "freeze / seal / preventExtensions",
      expectNoWrite("freeze", (s) => {
        Object.freeze(s);
        void s.history.length;
      }),
    ],
    [
      "symbol keys on the session",
      expectNoWrite("symbol", (s) => {
        s[Symbol("x")] = 1;
      }),
    ],
  ]);
});

Deno.test("attack: defineProperty on the session", async () => {
  await cases([
    [
      "a data property over an untouched field",
      expectSaved("data", (s) => {
        Object.defineProperty(s, "history", {
          value: [],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }, (d) => d.history = []),
    ],
    [
      "a user getter over an untouched field, giving another untouched field",
      expectSaved(
        "getter",
        (s) => {
          Object.defineProperty(s, "history", {
            get: () => s.log,
            enumerable: true,
            configurable: true,
          });
        },
        (d) => d.history = d.log,
      ),
    ],
    [
      "a user getter over a small field",
      expectSaved("getter small", (s) => {
        Object.defineProperty(s, "count", { get: () => 42, enumerable: true, configurable: true });
      }, (d) => d.count = 42),
    ],
    [
      "a new field with a getter reading an untouched field",
      expectSaved("getter new", (s) => {
        Object.defineProperty(s, "total", {
          get() {
            return this.history.length;
          },
          enumerable: true,
          configurable: true,
        });
      }, (d) => d.total = 100),
    ],
  ]);
});

Deno.test("attack: freeze, seal, preventExtensions after changes", async () => {
  await cases([
    [
      "freeze after push",
      expectSaved("freeze", (s) => {
        s.history.push(extra);
        (Object.values(s)[3] as Entry[]).push(extra);
        Object.freeze(s);
      }, (d) => (d.history.push(extra), d.log.push(extra))),
    ],
    [
      "seal then assign",
      expectSaved("seal", (s) => {
        Object.seal(s);
        s.count = 5;
        s.log = [];
      }, (d) => (d.count = 5, d.log = [])),
    ],
    [
      "preventExtensions then change inside",
      expectSaved("pe", (s) => {
        Object.preventExtensions(s);
        s.counters.set("x", 1);
      }, (d) => d.counters.set("x", 1)),
    ],
  ]);
});

Deno.test("attack: fields deleted, added, swapped, shared, cyclic", async () => {
  await cases([
    [
      "delete an untouched field",
      expectSaved("delete", (s) => {
        delete s.history;
      }, (d) => delete d.history),
    ],
    [
      "add a field",
      expectSaved("add", (s) => {
        s.extra = { a: 1 };
      }, (d) => d.extra = { a: 1 }),
    ],
    [
      "swap two untouched fields",
      expectSaved("swap", (s) => {
        [s.history, s.log] = [s.log, s.history];
      }, (d) => [d.history, d.log] = [d.log, d.history]),
    ],
    [
      "move a field: add new, delete old",
      expectSaved("move", (s) => {
        s.moved = s.history;
        delete s.history;
      }, (d) => (d.moved = d.history, delete d.history)),
    ],
  ]);
  await onEach(async (b) => {
    // A field becomes shared with another: the sharing survives and later changes reach both.
    let bot = botOn(b.storage, (s) => void (s.log = s.history));
    await send(bot);
    bot = botOn(b.storage, (s) => {
      assert.ok(s.log === s.history, "sharing lost after reload");
      s.history.push(extra);
    });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    const got = await readBack(b.storage);
    assert.equal(got.history.length, 101);
    assert.ok(got.log === got.history);
    // Then read-only: no write.
    const { wrote, errors } = await once(b, (s) => void Object.values(s));
    assert.deepEqual(errors, []);
    assert.ok(!wrote, "read-only update on a shared session wrote");
  });
  await onEach(async (b) => {
    // Cycles: in a small field, in a large one, and the session itself.
    let bot = botOn(b.storage, (s) => {
      s.cart.self = s.cart;
      s.history.push({ back: s.history });
      s.me = s;
    });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    bot = botOn(b.storage, (s) => {
      assert.ok(s.cart.self === s.cart, "small cycle");
      assert.ok(s.history[100].back === s.history, "large cycle");
      assert.ok(s.me === s, "session contains itself");
      s.count = 7;
    });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    const got = await readBack(b.storage);
    assert.equal(got.count, 7);
    const { wrote } = await once(b, (s) => void s.history.length);
    assert.ok(!wrote, "read-only update on a cyclic session wrote");
  });
});

Deno.test("attack: a throwing handler that wrote everywhere writes nothing", async () => {
  await onEach(async (b) => {
    const { wrote, errors } = await once(b, (s) => {
      s.history.push(extra);
      (Object.values(s)[3] as Entry[]).length = 0;
      s.cart.items.push("x");
      s.count = 9;
      delete s.seen;
      throw new Error("boom");
    });
    assert.equal(errors.length, 1);
    assert.ok(!wrote);
    assert.deepEqual(await readBack(b.storage), seed());
  });
});

Deno.test("attack: $clear() then re-read and change; a reference from before the clear", async () => {
  await onEach(async (b) => {
    const bot = botOn(b.storage, async (s) => {
      const before = s.history;
      s.history.push(extra);
      await s.$clear();
      assert.equal(s.history.length, 0, "history after $clear()");
      assert.equal(s.log.length, 0, "log after $clear()");
      before.push(extra); // the pre-clear array is not the session's
      s.history.push({ id: 1, at: new Date(1), text: "after" });
      s.count = 3;
    });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    const got = await readBack(b.storage);
    assert.deepEqual(got, {
      ...initial(),
      count: 3,
      history: [{ id: 1, at: new Date(1), text: "after" }],
    });
  });
  await onEach(async (b) => {
    const bot = botOn(b.storage, async (s) => {
      await s.$clear();
      void Object.values(s);
    });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    assert.equal(await b.storage.get("7"), undefined, "cleared record still stored");
  });
});

Deno.test("attack: ctx.session = {...ctx.session} with changes", async () => {
  await cases([
    [
      "spread with a new count",
      expectSaved("spread count", (s, ctx) => {
        ctx.session = { ...s, count: 5 };
      }, (d) => d.count = 5),
    ],
    [
      "spread then change inside",
      expectSaved("spread push", (s, ctx) => {
        ctx.session = { ...s };
        ctx.session.history.push(extra);
      }, (d) => d.history.push(extra)),
    ],
    [
      "old object changed after the assignment is not the session",
      expectSaved("old", (s, ctx) => {
        ctx.session = { ...s, count: 2 };
        s.log.push(extra);
      }, (d) => d.count = 2),
    ],
  ]);
});

const versioned = (b: Backend) => isVersionedStorage(b.storage);

async function race(
  b: Backend,
  ours: Handler,
  theirs: Handler,
  options: Record<string, unknown> = {},
) {
  const entered = gate();
  const release = gate();
  const a = botOn(b.storage, async (s, ctx) => {
    await ours(s, ctx);
    entered.open();
    await release.promise;
  }, { onConflict: "merge", ...options });
  const other = botOn(secondHandle(b.storage as VersionedStorage), theirs, options);
  const running = send(a);
  await entered.promise;
  await send(other);
  release.open();
  await running;
  return { ours: errorsOf(a), theirs: errorsOf(other) };
}

Deno.test("attack: two instances, merge when one side never read a field", async () => {
  const failures: string[] = [];
  const attempt = async (what: string, attack: (b: Backend) => Promise<void>) => {
    try {
      await onEach(attack, versioned);
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  };
  await attempt("ours: count; theirs: history", async (b) => {
    const r = await race(b, (s) => void s.count++, (s) => void s.history.push(extra));
    assert.deepEqual([...r.ours, ...r.theirs], []);
    const got = await readBack(b.storage);
    assert.equal(got.count, 2);
    assert.equal(got.history.length, 101);
  });
  await attempt("ours: history assigned unread; theirs: count", async (b) => {
    const r = await race(b, (s) => void (s.history = []), (s) => void (s.count = 10));
    assert.deepEqual([...r.ours, ...r.theirs], []);
    const got = await readBack(b.storage);
    assert.equal(got.count, 10);
    assert.equal(got.history.length, 0);
  });
  await attempt("ours: read history, change count; theirs: history", async (b) => {
    const r = await race(
      b,
      (s) => void (s.count = s.history.length),
      (s) => void s.history.push(extra),
    );
    assert.deepEqual([...r.ours, ...r.theirs], []);
    const got = await readBack(b.storage);
    assert.equal(got.count, 100);
    assert.equal(got.history.length, 101);
  });
  await attempt("theirs cleared: our merge never resurrects their cleared data", async (b) => {
    // Ours adds a field their clear did not touch: merged into initial().
    const r = await race(b, (s) => void (s.note = "n"), async (s) => await s.$clear());
    assert.deepEqual([...r.ours, ...r.theirs], []);
    const got = await readBack(b.storage);
    assert.equal(got.history.length, 0, "history resurrected");
    assert.equal(got.log.length, 0, "log resurrected");
    assert.equal(got.count, 0, "count resurrected");
    assert.equal(got.note, "n");
  });
  await attempt("ours cleared, theirs changed an unread field: their save kept", async (b) => {
    const r = await race(b, async (s) => await s.$clear(), (s) => void s.log.push(extra));
    assert.equal(r.ours.length, 1);
    assert.ok(r.ours[0] instanceof SessionConflictError, String(r.ours[0]));
    const got = await readBack(b.storage);
    assert.equal(got.log.length, 101);
    assert.equal(got.history.length, 100);
  });
  if (failures.length) throw new Error(failures.join("\n=====\n"));
});

Deno.test("attack: migrations that change their input in place never touch the stored value", async () => {
  await onEach(async (b) => {
    const old = { ...seed(), total: 4 };
    delete (old as S).count;
    await b.storage.set("7", old);
    const migrations: Migrations = {
      1: (data: S) => {
        data.count = data.total;
        delete data.total;
        data.history.push(extra);
        return data;
      },
    };
    let bot = botOn(b.storage, () => {
      throw new Error("boom");
    }, { migrations });
    await send(bot);
    assert.equal(errorsOf(bot).length, 1);
    const raw = await b.storage.get("7") as S;
    assert.equal(raw.total, 4, "stored value migrated by a failed update");
    assert.equal(raw.history.length, 100, "stored history changed by a migration");
    bot = botOn(b.storage, () => {}, { migrations });
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    const got = await readBack(b.storage, 7, { migrations });
    assert.equal(got.count, 4);
    assert.equal(got.total, undefined);
    assert.equal(got.history.length, 101);
  });
});

Deno.test("attack: ttl in memory: an expired session is not resurrected by fields never read", async () => {
  let now = 1_000_000;
  const storage = inMemoryStorage({ clock: () => now });
  const options = { ttl: 1000, clock: () => now };
  let bot = botOn(storage, (s) => void (s.history = entries(100, "mine")), options);
  await send(bot);
  bot = botOn(storage, (s) => void s.count++, options); // history never read
  await send(bot);
  now += 2000;
  const got = await readBack(storage, 7, options);
  assert.deepEqual(got, initial());
});

Deno.test("attack: lazy sessions: kept references, indirect changes, read-only", async () => {
  await onEach(async (b) => {
    const lazy = { lazy: true };
    let kept: S;
    let bot = botOn(b.storage, async (_s, ctx) => {
      const s = await ctx.session;
      kept = s;
      (Object.values(s)[2] as Entry[]).push(extra);
    }, lazy);
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    kept.history.push(extra);
    kept.log.push(extra);
    const before = await b.writes();
    bot = botOn(b.storage, async (_s, ctx) => void JSON.stringify(await ctx.session), lazy);
    await send(bot);
    assert.equal(await b.writes(), before, "lazy read-only update wrote");
    const got = await readBack(b.storage);
    assert.equal(got.history.length, 101);
    assert.equal(got.log.length, 100);
  });
});

Deno.test("attack: many keys, prototype-less fields, __proto__ keys, -0", async () => {
  const wide: Record<string, unknown> = { history: entries(100) };
  for (let i = 0; i < 30; i++) wide[`f${i}`] = i % 2 ? { v: i } : i;
  const dict = Object.create(null);
  for (let i = 0; i < 100; i++) dict[`d${i}`] = { v: i };
  wide.dict = dict;
  wide.zero = -0;
  Object.defineProperty(wide, "__proto__", {
    value: { own: true },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  const failures: string[] = [];
  for (
    const [what, handler, change] of [
      ["read-only", (s: S) => void Object.values(s), undefined],
      ["f21 changed", (s: S) => void (s.f21.v = 0), (d: S) => void (d.f21.v = 0)],
      ["null-proto field via values", (s: S) => {
        (Object.values(s).find((v) => typeof v === "object" && v !== null && "d5" in v) as S).d5.v =
          -5;
      }, (d: S) => void (d.dict.d5.v = -5)],
      ["-0 becomes 0", (s: S) => void (s.zero = 0), (d: S) => void (d.zero = 0)],
    ] as const
  ) {
    try {
      await onEach(
        async (b) => {
          const { wrote, errors } = await once(b, handler as Handler);
          assert.deepEqual(errors, []);
          assert.equal(wrote, change !== undefined, change ? "not written" : "read-only wrote");
          const want: S = structuredClone(wide);
          if (change) (change as (d: S) => void)(want);
          const got = await readBack(b.storage);
          assert.ok(Object.is(got.zero, want.zero), `zero: ${got.zero}`);
          assert.ok(Object.hasOwn(got, "__proto__"), "own __proto__ lost");
          assert.deepEqual({ ...got.__proto__ }, { own: true });
          assert.equal(got.f21.v, want.f21.v);
          assert.equal(got.dict.d5.v, want.dict.d5.v);
        },
        undefined,
        wide,
      );
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  }
  if (failures.length) throw new Error(failures.join("\n=====\n"));
});

Deno.test("attack: the memory storage's public get/set/getVersioned still copy", async () => {
  const storage = inMemoryStorage();
  const value = seed() as S;
  await storage.set("7", value);
  value.history.push(extra);
  (await storage.get("7") as S).history.push(extra);
  ((await storage.getVersioned("7")).value as S).log.push(extra);
  let bot = botOn(storage, (s) => void s.count++);
  await send(bot);
  (await storage.get("7") as S).history.length = 0;
  ((await storage.getVersioned("7")).value as S).counters.clear();
  bot = botOn(storage, () => {});
  await send(bot);
  const got = await readBack(storage);
  assert.deepEqual(got, { ...seed(), count: 2 });
});

Deno.test("attack: sessionStore get/update between live sessions", async () => {
  await onEach(async (b) => {
    const store = sessionStore({ storage: b.storage, initial });
    let kept: S;
    let bot = botOn(b.storage, (s) => void (kept = s, s.count++));
    await send(bot);
    await store.update("7", (s: S) => void s.log.push(extra));
    const got = await store.get("7") as S;
    got.history.length = 0;
    got.log.length = 0;
    kept.log.push(extra);
    bot = botOn(b.storage, (s) => void s.cart.items.push("b"));
    await send(bot);
    assert.deepEqual(errorsOf(bot), []);
    const back = await readBack(b.storage);
    assert.equal(back.count, 2);
    assert.equal(back.log.length, 101);
    assert.equal(back.history.length, 100);
    assert.deepEqual(back.cart.items, ["a", "b"]);
  });
});

Deno.test("attack: descriptor-based copies of the session: large fields are accessors until read (documented), a descriptor copy fails with the fix", async () => {
  await cases([
    [
      "getOwnPropertyDescriptor(...).get",
      expectNoWrite("descriptor getter", (s) => {
        const descriptor = Object.getOwnPropertyDescriptor(s, "history")!;
        assert.equal(descriptor.enumerable, true);
        assert.ok(Array.isArray(descriptor.get!.call(s)));
      }),
    ],
    [
      "Object.defineProperties({}, getOwnPropertyDescriptors(s))",
      expectNoWrite("copy", (s) => {
        const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(s)) as S;
        assert.throws(() => copy.history, /\{ \.\.\.ctx\.session \}/);
        assert.equal({ ...s }.history.length, 100);
      }),
    ],
  ]);
});
