/**
 * The Deno KV storage's private parts, called directly: the chunk manifest
 * and splitting (`_chunks.ts`), the key layout (`_keys.ts`), versions
 * (`_version.ts`), ttl as `expireIn` (`_limits.ts`) and the size bound
 * (`_size.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { SessionDataError } from "../mod.ts";
import {
  CHUNK_BYTES,
  isManifestLike,
  manifestOf,
  MAX_CHUNKS,
  splitIntoChunks,
  validManifest,
} from "../src/storages/denokv/_chunks.ts";
import { formatKey, keyLayout } from "../src/storages/denokv/_keys.ts";
import { expireOptions } from "../src/storages/denokv/_limits.ts";
import { isPlainVersion, plainVersion, versionstampOf } from "../src/storages/denokv/_version.ts";
import { serializedBound, surelyFitsOneValue } from "../src/storages/denokv/_size.ts";

Deno.test("splitIntoChunks: views of CHUNK_BYTES over the same bytes, the last one shorter", () => {
  const bytes = new Uint8Array(2 * CHUNK_BYTES + 5).map((_, i) => i % 251);
  const chunks = splitIntoChunks(bytes.subarray(3));
  assert.deepEqual(chunks.map((chunk) => chunk.byteLength), [CHUNK_BYTES, CHUNK_BYTES, 2]);
  assert.ok(chunks.every((chunk) => chunk.buffer === bytes.buffer), "views, not copies");
  assert.deepEqual(
    new Uint8Array(chunks.flatMap((chunk) => [...chunk])),
    bytes.subarray(3),
  );
  assert.deepEqual(splitIntoChunks(new Uint8Array(0)), []);
});

Deno.test("manifestOf / validManifest / isManifestLike: what is written reads back; anything else is SessionDataError", () => {
  const manifest = manifestOf(3, 150_000, true);
  assert.ok(isManifestLike(manifest));
  assert.equal(validManifest("k", manifest), manifest);
  assert.equal(manifestOf(1, 10, false).expires, undefined);
  assert.equal(isManifestLike({ chunks: 3, bytes: 10 }), false);
  assert.equal(isManifestLike(null), false);
  for (
    const bad of [
      { ...manifest, __gramio_session_chunks__: 2 },
      { ...manifest, chunks: 0 },
      { ...manifest, chunks: MAX_CHUNKS + 1 },
      { ...manifest, chunks: 1.5 },
      { ...manifest, bytes: "10" },
    ]
  ) {
    assert.throws(
      () => validManifest("k", bad as Record<string, unknown>),
      (error) =>
        error instanceof SessionDataError && /unknown Deno KV chunk manifest/.test(error.message),
      JSON.stringify(bad),
    );
  }
});

Deno.test("keyLayout: heads under the prefix, chunks after every head; an empty prefix is refused", () => {
  const keys = keyLayout(["bot", 2]);
  assert.deepEqual(keys.head("42"), ["bot", 2, "42"]);
  assert.deepEqual(keys.chunk("42", 3), ["bot", 2, 0, "42", 3]);
  assert.deepEqual(keys.chunkRoot, ["bot", 2, 0]);
  assert.ok(Object.isFrozen(keys.prefix));
  assert.throws(() => keyLayout([]), RangeError);
  assert.equal(formatKey(keys.chunk("42", 0)), '["bot", 2, 0, "42", 0]');
});

Deno.test("plainVersion / isPlainVersion / versionstampOf: the mark comes off, other versions pass as they are", () => {
  const stamp = "00000000000000010000";
  assert.ok(isPlainVersion(plainVersion(stamp)));
  assert.equal(versionstampOf(plainVersion(stamp)), stamp);
  assert.equal(isPlainVersion(stamp), false);
  assert.equal(versionstampOf(stamp), stamp);
  assert.equal(versionstampOf(null), null);
  assert.equal(versionstampOf(undefined), undefined);
});

Deno.test("expireOptions: a ttl as whole milliseconds of expireIn, none without one", () => {
  assert.equal(expireOptions(undefined), undefined);
  assert.equal(expireOptions({}), undefined);
  assert.deepEqual(expireOptions({ ttl: 1500.2 }), { expireIn: 1501 });
  assert.throws(() => expireOptions({ ttl: 0 }), RangeError);
});

Deno.test("serializedBound: never below V8's serialization, close to it for sessions, and at most what KV accepts as one value", async () => {
  const values: [string, unknown][] = [
    ["empty", {}],
    ["numbers", { a: 1, b: -1.5, c: 2 ** 40, d: NaN, e: -0, f: -(2 ** 30), g: 2 ** 30 - 1 }],
    ["two-byte string", { s: "héllo ✓ 日本", t: "ÿ".repeat(300) }],
    ["array", [1, "x", null, undefined, true, [], {}]],
    ["holey array", [1, , 3, , , 6]],
    ["sparse array", Object.assign([], { 100: 1 })],
    ["named array keys", Object.assign([1, 2], { k: "v" })],
    ["map and set", new Map<unknown, unknown>([[1, { a: 2 }], ["k", new Set([1, "2", 3n])]])],
    ["typed arrays", {
      u: new Uint8Array(100),
      f: new Float64Array(new ArrayBuffer(64), 8, 2),
      b: new ArrayBuffer(10),
      d: new DataView(new ArrayBuffer(7)),
    }],
    ["date, regexp", { d: new Date(), r: /ab+c/gi }],
    ["boxed", { s: new String("x"), n: new Number(1), b: new Boolean(true), z: Object(10n) }],
    ["bigint", { z: 2n ** 200n, y: -5n, x: 0n }],
    ["null prototype", Object.assign(Object.create(null), { a: 1 })],
    [
      "class instance",
      new (class A {
        x = 1;
        y = "yy";
      })(),
    ],
    ["integer keys", { 1: "a", 4294967294: "b", x: 3 }],
    [
      "shared objects",
      (() => {
        const shared = { n: 1 };
        return { a: shared, b: [shared, shared] };
      })(),
    ],
  ];
  for (let size = 1; size <= 300_000; size *= 4) {
    const history = Array.from({ length: size / 100 }, (_, i) => ({
      id: i,
      at: new Date(i),
      text: "text ".repeat(15),
      meta: { chat: 1_000_001, reply: i % 3 ? null : i - 1 },
    }));
    values.push([`session with ${history.length} entries`, { count: size, history }]);
  }
  for (const [name, value] of values) {
    const actual = serialize(value).byteLength;
    const bound = serializedBound(value, Infinity);
    assert.ok(bound !== undefined && bound >= actual, `${name}: bound ${bound} < ${actual}`);
    if (name.startsWith("session") && actual > 1000) {
      assert.ok(bound <= actual * 1.05, `${name}: bound ${bound} far above ${actual}`);
    }
  }
  // Past one value, or where the walk stops (a cycle, an Error): no bound.
  assert.equal(serializedBound({ s: "x".repeat(CHUNK_BYTES) }), undefined);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(serializedBound(cyclic), undefined);
  assert.equal(serializedBound({ error: new Error("x") }), undefined);
  assert.equal(surelyFitsOneValue({ n: 1 }), true);

  // Wherever the bound says a value fits, KV takes it whole.
  const kv = await Deno.openKv(":memory:");
  try {
    const makers: ((n: number) => unknown)[] = [
      (n) => ({ s: "x".repeat(n) }),
      (n) => ({ s: "✓".repeat(n >> 1) }),
      (n) => ({ u: new Uint8Array(n) }),
      (n) => Array.from({ length: n >> 3 }, (_, i) => i * 1000),
    ];
    for (const make of makers) {
      // The largest n the bound lets through (it grows with n): KV takes it.
      let [low, high] = [1_000, 200_000];
      while (low < high) {
        const mid = (low + high + 1) >> 1;
        if (surelyFitsOneValue(make(mid))) low = mid;
        else high = mid - 1;
      }
      assert.ok(low > 50_000, `the bound lets ${low} through`);
      await kv.set(["fits"], make(low));
    }
  } finally {
    kv.close();
  }
});
