/**
 * The Redis storage's stored format (`_format.ts`), called directly: encode
 * and decode, versions, legacy JSON from `@gramio/storage-redis`, and own
 * `__proto__` keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SessionDataError } from "../mod.ts";
import {
  decode,
  encode,
  MARKER,
  newVersion,
  sha1,
  versionOf,
} from "../src/storages/redis/_format.ts";

Deno.test("encode / decode: marker, version and devalue payload round-trip rich values", async () => {
  const value = { at: new Date(0), tags: new Set(["a"]), big: 2n ** 70n, list: [1, undefined] };
  const version = newVersion();
  assert.match(version, /^[0-9a-f]{16}$/);
  const raw = encode("k", value, version);
  assert.ok(raw.startsWith(`${MARKER}${version}:`));
  assert.deepEqual(decode("k", raw), value);
  assert.equal(await versionOf(raw), version);
});

Deno.test("decode / versionOf: legacy JSON reads with JSON.parse, its version is the SHA-1 of the string", async () => {
  const raw = JSON.stringify({ count: 1 });
  assert.deepEqual(decode("k", raw), { count: 1 });
  assert.equal(await versionOf(raw), `sha1:${await sha1(raw)}`);
  // The Lua scripts compute the same with redis.sha1hex.
  assert.equal(await sha1("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
});

Deno.test("decode: what neither format reads is a SessionDataError", () => {
  assert.throws(() => decode("k", "{not json"), SessionDataError);
  assert.throws(() => decode("k", `${MARKER}v:[broken`), SessionDataError);
});

Deno.test("encode: own __proto__ keys are fields, at any depth; escapes of them stay themselves", () => {
  const value = JSON.parse(
    '{"__proto__": {"polluted": 1}, "\\u0001__proto__": 2, "list": [{"__proto__": 3}]}',
  );
  const read = decode("k", encode("k", value, "v")) as Record<string, unknown>;
  assert.deepEqual(Object.keys(read), ["__proto__", "\u0001__proto__", "list"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(read, "__proto__")?.value, { polluted: 1 });
  assert.equal(Object.getPrototypeOf(read), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("encode: what devalue cannot keep is a TypeError naming the session", () => {
  class Point {
    x = 1;
  }
  assert.throws(
    () => encode("k", { p: new Point() }, "v"),
    (error) => error instanceof TypeError && /"k"/.test(error.message),
  );
  assert.throws(
    () => encode("k", { list: Object.assign([1], { note: "x" }) }, "v"),
    (error) => error instanceof TypeError && /named properties \(note\)/.test(error.message),
  );
});
