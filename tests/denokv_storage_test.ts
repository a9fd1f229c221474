import assert from "node:assert/strict";
import { serialize, Serializer } from "node:v8";
import { openKv as openNpmKv } from "@deno/kv";
import { denoKvStorage } from "../src/storages/denokv/mod.ts";
import { isListableStorage, isVersionedStorage } from "../src/storage.ts";
import { spyKv } from "./support/kv_spy.ts";
import { SessionDataError } from "../src/errors.ts";
import { session } from "../src/plugin.ts";
import { errorsOf, testBot, updates } from "./support/bot.ts";

/** Runs `fn` with a fresh database file path, removed afterwards. */
async function withDbFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gramio-session-kv-" });
  try {
    await fn(`${dir}/sessions.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with an open database file, closed and removed afterwards. */
function withKv(
  fn: (kv: Deno.Kv, path: string) => Promise<void>,
): Promise<void> {
  return withDbFile(async (path) => {
    const kv = await Deno.openKv(path);
    try {
      await fn(kv, path);
    } finally {
      kv.close();
    }
  });
}

/** Incompressible bytes (getRandomValues fills at most 65536 bytes per call). */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65_536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  }
  return bytes;
}

/** Every key stored under `prefix`, as strings for readable assertions. */
async function allKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of kv.list({ prefix })) {
    keys.push(Deno.inspect(entry.key));
  }
  return keys;
}

function richSession() {
  return {
    at: new Date("2024-05-06T07:08:09.010Z"),
    map: new Map<unknown, unknown>([["a", 1], [2, {
      nested: new Set([1n, 2n]),
    }]]),
    set: new Set(["x", "y"]),
    big: 12345678901234567890n,
    bytes: new Uint8Array([0, 1, 254, 255]),
    nested: {
      list: [1, "two", null, undefined, { deep: [new Date(0)] }],
      regex: /ab+c/gi,
    },
  };
}

Deno.test("denoKvStorage implements Storage, VersionedStorage and ListableStorage", () => {
  const storage = denoKvStorage(Deno.openKv(":memory:"));
  assert.ok(isVersionedStorage(storage));
  assert.ok(isListableStorage(storage));
  return storage.close();
});

Deno.test("structured values survive a round trip and closing and reopening the database file", async () => {
  await withDbFile(async (path) => {
    const first = await Deno.openKv(path);
    try {
      const storage = denoKvStorage(first);
      await storage.set("42", richSession());
      assert.deepEqual(await storage.get("42"), richSession());
    } finally {
      first.close();
    }
    const second = await Deno.openKv(path);
    try {
      const storage = denoKvStorage(second);
      assert.equal(await storage.has("42"), true);
      assert.deepEqual(await storage.get("42"), richSession());
      assert.equal(await storage.get("missing"), undefined);
      assert.equal(await storage.has("missing"), false);
      // Small sessions are stored as they are: readable by any KV client.
      assert.deepEqual(
        (await second.get(["gramio-session", "42"])).value,
        richSession(),
      );
    } finally {
      second.close();
    }
  });
});

Deno.test("class instances come back as plain objects", async () => {
  class Point {
    constructor(public x: number, public y: number) {}
    sum(): number {
      return this.x + this.y;
    }
  }
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    await storage.set("p", { point: new Point(1, 2) });
    const read = await storage.get("p") as { point: Point };
    assert.deepEqual(read, { point: { x: 1, y: 2 } });
    assert.equal(Object.getPrototypeOf(read.point), Object.prototype);
    assert.equal(read.point instanceof Point, false);
  });
});

Deno.test("a 300 KB session is chunked, round trips, and shrinking leaves no orphan chunk", async () => {
  await withKv(async (kv, path) => {
    const storage = denoKvStorage(kv);
    const large = {
      ...richSession(),
      blob: randomBytes(300_000),
      text: "é".repeat(10_000),
    };
    await storage.set("big", large);
    assert.deepEqual(await storage.get("big"), large);

    const entries = await allKeys(kv, ["gramio-session"]);
    // Head + ceil(serialized size / 65536) chunks; 300 KB needs 5.
    assert.equal(entries.length, 1 + 5, entries.join("\n"));
    const chunks = [];
    for await (
      const entry of kv.list({ prefix: ["gramio-session", 0, "big"] })
    ) chunks.push(entry);
    assert.equal(chunks.length, 5);
    const head = await kv.get(["gramio-session", "big"]);
    for (const chunk of chunks) {
      assert.ok(
        chunk.value instanceof Uint8Array && chunk.value.byteLength <= 65_536,
      );
      // One commit: the head and every chunk share its versionstamp.
      assert.equal(chunk.versionstamp, head.versionstamp);
    }

    // Survives reopening, read through another handle.
    const other = await Deno.openKv(path);
    try {
      assert.deepEqual(await denoKvStorage(other).get("big"), large);
    } finally {
      other.close();
    }

    // A smaller chunked value, then a small plain one: stale chunks go in the same commit.
    const medium = { blob: randomBytes(100_000) };
    await storage.set("big", medium);
    assert.deepEqual(await storage.get("big"), medium);
    assert.equal((await allKeys(kv, ["gramio-session"])).length, 1 + 2);

    await storage.set("big", { small: true });
    assert.deepEqual(await storage.get("big"), { small: true });
    assert.deepEqual(await allKeys(kv, ["gramio-session"]), [
      '[ "gramio-session", "big" ]',
    ]);

    // And back to large, then deleted: nothing is left.
    await storage.set("big", large);
    assert.deepEqual(await storage.get("big"), large);
    await storage.delete("big");
    assert.equal(await storage.get("big"), undefined);
    assert.equal(await storage.has("big"), false);
    assert.deepEqual(await allKeys(kv, ["gramio-session"]), []);
  });
});

Deno.test("a session at the size limit saves; past it, the save fails clearly and keeps the previous value", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    // 12 chunks of 65536 bytes: the largest session one atomic commit holds.
    const atLimit = { blob: randomBytes(786_432 - 64) };
    await storage.set("s", atLimit);
    assert.deepEqual(await storage.get("s"), atLimit);

    const huge = { blob: new Uint8Array(20 * 1024 * 1024) };
    await assert.rejects(storage.set("s", huge), (error: Error) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /session "s" is 209715\d\d bytes serialized/);
      assert.match(error.message, /the limit is 786432 bytes/);
      assert.match(error.message, /left unchanged/);
      return true;
    });
    const head = await kv.get(["gramio-session", "s"]);
    await assert.rejects(
      storage.setIfVersion("s", huge, head.versionstamp),
      RangeError,
    );
    assert.deepEqual(await storage.get("s"), atLimit);

    // Just over the limit.
    await assert.rejects(
      storage.set("s", { blob: randomBytes(786_432) }),
      /the limit is 786432 bytes/,
    );
    assert.deepEqual(await storage.get("s"), atLimit);
  });
});

Deno.test("a long session key lowers what fits in one commit: KV's own limit is reported", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    const key = "k".repeat(1900);
    await storage.set(key, { ok: 1 });
    await assert.rejects(
      storage.set(key, { blob: randomBytes(780_000) }),
      (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.ok(error.message.includes(`session "${key}" is 7800`));
        assert.match(
          error.message,
          /Total mutation size too large \(max 819200 bytes\)/,
        );
        return true;
      },
    );
    assert.deepEqual(await storage.get(key), { ok: 1 });
  });
});

Deno.test("setIfVersion: compare-and-set across two handles on one file", async () => {
  await withDbFile(async (path) => {
    const kvA = await Deno.openKv(path);
    const kvB = await Deno.openKv(path);
    try {
      const a = denoKvStorage(kvA);
      const b = denoKvStorage(kvB);
      assert.deepEqual(await a.getVersioned("k"), {
        value: undefined,
        version: null,
      });
      assert.equal(await a.setIfVersion("k", { n: 1 }, null), true);
      assert.equal(
        await b.setIfVersion("k", { n: 99 }, null),
        false,
        "null means: only if absent",
      );

      const readA = await a.getVersioned("k");
      const readB = await b.getVersioned("k");
      assert.deepEqual(readA.value, { n: 1 });
      assert.equal(typeof readA.version, "string");
      assert.equal(readB.version, readA.version);

      assert.equal(await b.setIfVersion("k", { n: 2 }, readB.version), true);
      assert.equal(await a.setIfVersion("k", { n: 3 }, readA.version), false);
      assert.deepEqual(await a.get("k"), { n: 2 });

      // The same with chunked values on both sides.
      const big = (tag: number) => ({ tag, blob: randomBytes(200_000) });
      const base = await a.getVersioned("k");
      const theirs = big(1);
      assert.equal(await b.setIfVersion("k", theirs, base.version), true);
      assert.equal(await a.setIfVersion("k", big(2), base.version), false);
      assert.equal(
        await a.setIfVersion("k", { small: 1 }, base.version),
        false,
      );
      assert.deepEqual(await a.get("k"), theirs);

      const fresh = await a.getVersioned("k");
      assert.equal(
        await a.setIfVersion("k", { small: 1 }, fresh.version),
        true,
      );
      assert.deepEqual(await b.get("k"), { small: 1 });
      assert.equal(
        (await allKeys(kvA, ["gramio-session"])).length,
        1,
        "shrinking through setIfVersion drops chunks",
      );
    } finally {
      kvA.close();
      kvB.close();
    }
  });
});

Deno.test("a save over a plain session checks only its head; the chunk check is for the rest", async () => {
  await withKv(async (kv) => {
    const spy = spyKv(kv);
    const storage = denoKvStorage(spy.kv);
    const shown = () => spy.checks.splice(0).map((key) => key.join("/"));
    assert.equal(await storage.setIfVersion("u", { n: 1 }, null), true);
    // Nothing read: the first chunk must not exist either (an expired head may leave chunks).
    assert.deepEqual(shown(), ["gramio-session/u", "gramio-session/0/u/0"]);
    const plain = await storage.getVersioned("u");
    assert.equal(await storage.setIfVersion("u", { n: 2 }, plain.version), true);
    // The head still being the plain one read proves there are no chunks.
    assert.deepEqual(shown(), ["gramio-session/u"]);
    // Over a chunked session, with its version or with the head's bare versionstamp
    // (from kv.get or kv.watch): the chunks go.
    for (
      const versionOf of [
        async () => (await storage.getVersioned("u")).version,
        async () => (await kv.get(["gramio-session", "u"])).versionstamp,
      ]
    ) {
      await storage.set("u", { blob: randomBytes(100_000) });
      assert.equal(await storage.setIfVersion("u", { n: 3 }, await versionOf()), true);
      assert.deepEqual(await allKeys(kv, ["gramio-session"]), ['[ "gramio-session", "u" ]']);
      assert.deepEqual(await storage.get("u"), { n: 3 });
    }
  });
});

Deno.test("a chunked session is saved in one commit, serialized once: no plain attempt that KV refuses", async () => {
  await withKv(async (kv) => {
    const spy = spyKv(kv);
    const storage = denoKvStorage(spy.kv);
    const commits = () => spy.commits.splice(0);
    const big = (n: number) => ({ n, blob: randomBytes(200_000) });
    // The save on which a session outgrows one value: KV refuses it whole once.
    assert.equal(await storage.setIfVersion("s", { n: 0 }, null), true);
    const small = await storage.getVersioned("s");
    commits();
    assert.equal(await storage.setIfVersion("s", big(1), small.version), true);
    assert.deepEqual(commits(), ["threw", "ok"]);
    // Known large from its version: one commit, serialized once (by node:v8).
    const stale = await storage.getVersioned("s");
    for (let n = 2; n <= 3; n++) {
      const read = await storage.getVersioned("s");
      assert.equal(await storage.setIfVersion("s", big(n), read.version), true);
      assert.deepEqual(commits(), ["ok"], `save ${n}`);
    }
    // A conflicting save of a chunked session: refused by its check, nothing else.
    assert.equal(await storage.setIfVersion("s", big(4), stale.version), false);
    assert.deepEqual(commits(), ["checked"]);
    // Shrunk into one value: stored whole, its chunks deleted in the same commit.
    const chunked = await storage.getVersioned("s");
    assert.equal(await storage.setIfVersion("s", { n: 5 }, chunked.version), true);
    assert.deepEqual(commits(), ["ok"]);
    assert.deepEqual(await allKeys(kv, ["gramio-session"]), ['[ "gramio-session", "s" ]']);
    assert.deepEqual(await storage.get("s"), { n: 5 });
  });
});

/** Counts node:v8 serialize calls (through the Serializer prototype it builds on). */
function countSerializes(): () => number {
  const prototype = Serializer.prototype as { writeHeader: (this: unknown) => void };
  const writeHeader = prototype.writeHeader;
  let calls = 0;
  prototype.writeHeader = function (this: unknown) {
    calls++;
    return writeHeader.call(this);
  };
  serialize({ probe: 1 });
  assert.equal(calls, 1, "node:v8 serialize calls are seen");
  return () => {
    prototype.writeHeader = writeHeader;
    return calls - 1;
  };
}

Deno.test("without a version (a new session, an unconditional set) the size bound decides: large is chunked at once, serialized once; small goes to KV as it is", async () => {
  await withKv(async (kv) => {
    const spy = spyKv(kv);
    const storage = denoKvStorage(spy.kv);
    const commits = () => spy.commits.splice(0);
    /** Stored whole: the head holds the session itself, and there are no chunks. */
    const storedWhole = async (key: string, value: unknown) => {
      assert.deepEqual((await kv.get(["gramio-session", key])).value, value);
      assert.deepEqual(await allKeys(kv, ["gramio-session", 0, key]), []);
    };
    let serializes = countSerializes();
    try {
      // Large: one commit, one node:v8 serialization, no attempt KV refuses.
      assert.equal(
        await storage.setIfVersion("new", { n: 1, blob: randomBytes(200_000) }, null),
        true,
      );
      assert.deepEqual(commits(), ["ok"]);
      await storage.set("set", { n: 2, text: "x".repeat(70_000) });
      assert.deepEqual(commits(), ["ok"]);
      assert.equal(serializes(), 2);
      assert.equal((await storage.get("new") as { n: number }).n, 1);
      assert.equal((await storage.get("set") as { text: string }).text.length, 70_000);

      // Small, even close to the limit: KV serializes it, nobody else.
      serializes = countSerializes();
      const near = { text: "x".repeat(65_000) };
      const small = { n: 3, at: new Date(0), tags: new Set(["a"]) };
      assert.equal(await storage.setIfVersion("near", near, null), true);
      await storage.set("small", small);
      assert.deepEqual(commits(), ["ok", "ok"]);
      assert.equal(serializes(), 0);
      await storedWhole("near", near);
      await storedWhole("small", small);

      // Not sure from the bound (a cycle is counted until the limit): serialized
      // once to tell, then stored whole, the cycle kept.
      serializes = countSerializes();
      const cyclic: Record<string, unknown> = { n: 4 };
      cyclic.self = cyclic;
      assert.equal(await storage.setIfVersion("cyclic", cyclic, null), true);
      assert.deepEqual(commits(), ["ok"]);
      assert.equal(serializes(), 1);
      await storedWhole("cyclic", cyclic);
      const back = await storage.get("cyclic") as Record<string, unknown>;
      assert.equal(back.self, back);
    } finally {
      serializes();
    }
  });
});

Deno.test("keys() lists sessions only: no chunks, no nested or foreign keys", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    await storage.set("a", { n: 1 });
    await storage.set("b", { blob: randomBytes(150_000) });
    await storage.set("", { empty: "key" });
    await storage.set("c", { n: 3 });
    await kv.set(["gramio-session", "a", "child"], 1);
    await kv.set(["gramio-session", 7n], 1);
    await kv.set(["other", "z"], 1);

    const keys: string[] = [];
    for await (const key of storage.keys()) keys.push(key);
    assert.deepEqual(keys.sort(), ["", "a", "b", "c"]);
  });
});

Deno.test("prefixes isolate storages sharing one database", async () => {
  await withKv(async (kv) => {
    const one = denoKvStorage(kv, { prefix: ["bot", "one"] });
    const two = denoKvStorage(kv, {
      prefix: ["bot", "two"],
      consistency: "eventual",
    });
    const big = { blob: randomBytes(120_000) };
    await one.set("42", { from: "one" });
    await one.set("big", big);
    await two.set("42", { from: "two" });

    assert.deepEqual(await one.get("42"), { from: "one" });
    assert.deepEqual(await two.get("42"), { from: "two" });
    assert.equal(await two.has("big"), false);
    assert.deepEqual(await one.get("big"), big);

    const listed = async (storage: typeof one) => {
      const keys: string[] = [];
      for await (const key of storage.keys()) keys.push(key);
      return keys.sort();
    };
    assert.deepEqual(await listed(one), ["42", "big"]);
    assert.deepEqual(await listed(two), ["42"]);

    await two.delete("42");
    assert.deepEqual(await one.get("42"), { from: "one" });
    assert.deepEqual(await allKeys(kv, ["bot", "two"]), []);
  });
});

Deno.test("ttl becomes expireIn on every written key", async () => {
  await withKv(async (kv) => {
    const spy = spyKv(kv);
    const storage = denoKvStorage(spy.kv);
    await storage.set("small", { n: 1 }, { ttl: 60_000 });
    await storage.set("big", { blob: randomBytes(140_000) }, { ttl: 1500.2 });
    const version = (await storage.getVersioned("small")).version;
    assert.equal(
      await storage.setIfVersion("small", { n: 2 }, version, { ttl: 5_000 }),
      true,
    );
    await storage.set("plain", { n: 1 });

    const expireIns = spy.sets.map((
      set,
    ) => [Deno.inspect(set.key), set.expireIn]);
    assert.deepEqual(expireIns, [
      ['[ "gramio-session", "small" ]', 60_000],
      // Too large for one value by its size bound: chunked at once, no refused attempt.
      ['[ "gramio-session", "big" ]', 1501],
      ['[ "gramio-session", 0, "big", 0 ]', 1501],
      ['[ "gramio-session", 0, "big", 1 ]', 1501],
      ['[ "gramio-session", 0, "big", 2 ]', 1501],
      ['[ "gramio-session", "small" ]', 5_000],
      ['[ "gramio-session", "plain" ]', undefined],
    ]);
    // KV does not drop expired entries on read by itself; the values are there.
    assert.deepEqual(await storage.get("small"), { n: 2 });
    await assert.rejects(storage.set("x", {}, { ttl: -1 }), RangeError);
  });
});

Deno.test("a value shaped like a chunk manifest is stored unambiguously", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    const lookalike = { __gramio_session_chunks__: 1, chunks: 3, bytes: 10 };
    await storage.set("m", lookalike);
    assert.deepEqual(await storage.get("m"), lookalike);
    await storage.set("m", { n: 1 });
    assert.deepEqual(await allKeys(kv, ["gramio-session"]), [
      '[ "gramio-session", "m" ]',
    ]);
  });
});

Deno.test("a write between reading the head and its chunks is not a torn read", async () => {
  await withKv(async (kv) => {
    const writer = denoKvStorage(kv);
    const before = { v: "before", blob: randomBytes(700_000) };
    const after = { v: "after", blob: randomBytes(200_000) };
    await writer.set("t", before);
    const spy = spyKv(kv, {
      // The first getMany (chunks of `before`) runs after `after` replaced them.
      beforeGetMany: async (call) => {
        if (call === 1) await writer.set("t", after);
      },
    });
    const reader = denoKvStorage(spy.kv);
    const read = await reader.getVersioned("t");
    assert.deepEqual(read.value, after);
    assert.ok(spy.getManyCalls >= 3, `${spy.getManyCalls} getMany calls`);
    // The version read is the one now stored: a save on it goes through.
    assert.equal(await reader.setIfVersion("t", { v: "next" }, read.version), true);
    assert.deepEqual(await writer.get("t"), { v: "next" });
  });
});

Deno.test("missing chunks: an error without ttl, an absent session once expiring", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    await storage.set("d", { blob: randomBytes(200_000) });
    await kv.delete(["gramio-session", 0, "d", 2]);
    await assert.rejects(storage.get("d"), (error) => {
      assert.ok(error instanceof SessionDataError);
      assert.match(error.message, /Session "d": the stored value is damaged/);
      return true;
    });

    // With expireIn, KV may drop chunks before the head: the session is gone.
    await storage.set("e", { blob: randomBytes(200_000) }, { ttl: 60_000 });
    await kv.delete(["gramio-session", 0, "e", 1]);
    const read = await storage.getVersioned("e");
    assert.equal(read.value, undefined);
    assert.equal(typeof read.version, "string");
    // Its version lets the plugin overwrite it, which clears the rest of the chunks.
    assert.equal(await storage.setIfVersion("e", { n: 1 }, read.version), true);
    assert.deepEqual(await allKeys(kv, ["gramio-session", 0, "e"]), []);
  });
});

Deno.test("damaged chunks and an unknown manifest are SessionDataError; onInvalidData: reset clears them", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    await storage.set("d", { blob: randomBytes(200_000) });
    await kv.delete(["gramio-session", 0, "d", 1]);
    await kv.set(["gramio-session", "m"], { __gramio_session_chunks__: 2, chunks: 1, bytes: 9 });
    for (const key of ["d", "m"]) {
      await assert.rejects(storage.get(key), SessionDataError);
    }
    await assert.rejects(storage.get("m"), /unknown Deno KV chunk manifest/);

    let ran = 0;
    const strict = testBot()
      .extend(session({ storage, getSessionKey: () => "d", initial: () => ({ n: 0 }) }))
      .on("message", () => void ran++);
    await strict.updates.handleUpdate(updates.message(1));
    assert.equal(ran, 0);
    assert.ok(errorsOf(strict)[0] instanceof SessionDataError, "not a storage failure: bad data");

    const resetting = testBot()
      .extend(session({
        storage,
        getSessionKey: (ctx) => ctx.senderId === 1 ? "d" : "m",
        onInvalidData: "reset",
        initial: () => ({ n: 0 }),
      }))
      .on("message", (ctx) => void ctx.session.n++);
    await resetting.updates.handleUpdate(updates.message(1));
    await resetting.updates.handleUpdate(updates.message(2));
    assert.deepEqual(errorsOf(resetting), []);
    assert.deepEqual(await storage.get("d"), { n: 1 });
    assert.deepEqual(await storage.get("m"), { n: 1 });
    assert.deepEqual(await allKeys(kv, ["gramio-session", 0]), [], "no chunk left behind");
  });
});

Deno.test("typed arrays of a chunked session own their bytes, not the whole session's", async () => {
  await withKv(async (kv) => {
    const storage = denoKvStorage(kv);
    const secret = "x".repeat(400_000);
    const arrays = Array.from({ length: 300 }, (_, i) => new Uint8Array(32).fill(i % 256));
    await storage.set("t", {
      secret,
      arrays,
      floats: new Float64Array([1.5]),
      view: new DataView(new Uint8Array([1, 2, 3]).buffer),
    });
    const read = await storage.get("t") as {
      arrays: Uint8Array[];
      floats: Float64Array;
      view: DataView;
    };
    assert.equal(read.arrays.length, 300);
    for (const [i, array] of read.arrays.entries()) {
      assert.equal(array.buffer.byteLength, 32, "one array keeps only its own bytes");
      assert.deepEqual(array, arrays[i]);
    }
    assert.equal(read.floats.buffer.byteLength, 8);
    assert.deepEqual([...read.floats], [1.5]);
    assert.equal(read.view.buffer.byteLength, 3);
    assert.equal(read.view.getUint8(2), 3);
  });
});

Deno.test("without a kv, Deno.openKv() is called once, lazily, and close() closes it", async () => {
  const descriptor = Object.getOwnPropertyDescriptor(Deno, "openKv")!;
  const original = Deno.openKv;
  const opened: Deno.Kv[] = [];
  Object.defineProperty(Deno, "openKv", {
    configurable: true,
    value: async (path?: string) => {
      assert.equal(path, undefined);
      const kv = await original(":memory:");
      opened.push(kv);
      return kv;
    },
  });
  try {
    const storage = denoKvStorage();
    assert.equal(opened.length, 0);
    await Promise.all([
      storage.set("a", { n: 1 }),
      storage.get("a"),
      storage.has("b"),
    ]);
    assert.deepEqual(await storage.get("a"), { n: 1 });
    assert.equal(opened.length, 1);
    await storage.close();
    // Closed: KV refuses further use of that handle.
    await assert.rejects(opened[0].get(["x"]));

    // Where there is no Deno.openKv, the error says what to pass instead.
    Object.defineProperty(Deno, "openKv", {
      configurable: true,
      value: undefined,
    });
    await assert.rejects(
      denoKvStorage().get("a"),
      /pass a kv, e\.g\. openKv from @deno\/kv on Node/,
    );
  } finally {
    Object.defineProperty(Deno, "openKv", descriptor);
  }
  // A kv passed in belongs to the caller: close() leaves it open.
  const kv = await Deno.openKv(":memory:");
  await denoKvStorage(kv).close();
  assert.equal((await kv.get(["x"])).versionstamp, null);
  kv.close();
});

Deno.test("options are validated", () => {
  assert.throws(
    () => denoKvStorage(undefined, { prefix: [] }),
    /prefix needs at least one part/,
  );
  assert.throws(
    () => denoKvStorage(undefined, { consistency: "sometimes" as "strong" }),
    /consistency must be "strong" or "eventual"/,
  );
});

Deno.test("works with @deno/kv's own SQLite backend (the one Node uses) on a file", async () => {
  await withDbFile(async (path) => {
    // Under Deno, openKv(path) hands back Deno.openKv; "sqlite" forces the
    // package's native (napi) backend, whose errors read differently
    // ("ValueTooLong" instead of "Value too large (max 65536 bytes)").
    const large = { ...richSession(), blob: randomBytes(300_000) };
    const kv = await openNpmKv(path, { implementation: "sqlite" });
    assert.equal(kv.constructor.name, "NapiBasedKv");
    try {
      const storage = denoKvStorage(kv);
      await storage.set("rich", richSession());
      assert.deepEqual(await storage.get("rich"), richSession());

      await storage.set("big", large);
      assert.deepEqual(await storage.get("big"), large);
      await assert.rejects(
        storage.set("big", { blob: new Uint8Array(2_000_000) }),
        /the limit is 786432 bytes/,
      );
      const base = await storage.getVersioned("big");
      assert.equal(
        await storage.setIfVersion("big", { small: 1 }, base.version),
        true,
      );
      assert.equal(
        await storage.setIfVersion("big", { small: 2 }, base.version),
        false,
      );
      const keys: string[] = [];
      for await (const key of storage.keys()) keys.push(key);
      assert.deepEqual(keys.sort(), ["big", "rich"]);
      await storage.set("big", large);
      await storage.set("plain", {
        at: new Date(0),
        tags: new Set(["a"]),
        n: 1n,
      });
    } finally {
      kv.close();
    }
    // Same file format: Deno.openKv reads what @deno/kv wrote, chunks included
    // (they are raw bytes, decoded with node:v8 here). Not "rich": @deno/kv
    // encodes a typed array nested in a value in node:v8's host-object form,
    // which Deno's KV refuses ("could not deserialize value"); the reverse works.
    const deno = await Deno.openKv(path);
    try {
      const storage = denoKvStorage(deno);
      assert.deepEqual(await storage.get("plain"), {
        at: new Date(0),
        tags: new Set(["a"]),
        n: 1n,
      });
      assert.deepEqual(await storage.get("big"), large);
    } finally {
      deno.close();
    }
  });
});
