/**
 * The Redis storage's stored format (`_format.ts`), called directly: encode
 * and decode, versions, legacy JSON from `@gramio/storage-redis`, own
 * `__proto__` keys, and the fast writer of devalue's format (`_devalue.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as devalueParse, stringify as devalueStringify } from "devalue";
import { SessionDataError } from "../mod.ts";
import { fastStringify } from "../src/storages/redis/_devalue.ts";
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
  // Odd payloads: read, or refused, exactly as devalue would.
  const odd = ["[]", '[{"a":5}]', '[{"a":-9}]', '[{"a":0.5}]', '[["Nope",1]]', '[{"a":"1"}]'];
  for (const payload of [...odd, "[[1,-7]]", '[[-7,3,1,"x"]]', '[["Set",5]]']) {
    let expected: unknown;
    try {
      expected = devalueParse(payload);
    } catch {
      assert.throws(() => decode("k", `${MARKER}v:${payload}`), SessionDataError, payload);
      continue;
    }
    assert.deepEqual(decode("k", `${MARKER}v:${payload}`), expected, payload);
  }
  // Read as devalue reads them: a lone special value, a self-reference, a hole.
  assert.equal(decode("k", `${MARKER}v:-1`), undefined);
  const cyclic = decode("k", `${MARKER}v:[{"self":0}]`) as { self: unknown };
  assert.equal(cyclic.self, cyclic);
  const holey = decode("k", `${MARKER}v:[[1,-2,1],"x"]`) as unknown[];
  assert.equal(holey.length, 3);
  assert.equal(1 in holey, false);
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

Deno.test("encode: the fast writer gives devalue's own string for every value it takes, and leaves the rest to devalue", () => {
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const strings = [
    "",
    "a",
    "red",
    'quo"te',
    "back\\slash",
    "<script>",
    "line\nbreak",
    "\u2028",
    "é✓",
    "😀",
    "\ud800",
    "__proto__x",
  ];
  const numbers = [0, -0, 1, -1, 1.5, 1e21, 2 ** 53, NaN, Infinity, -Infinity, Number.MIN_VALUE];
  const leaf = (): unknown =>
    pick([
      () => pick(strings),
      () => pick(numbers),
      () => pick([true, false, null, undefined]),
      () => BigInt(Math.floor(random() * 1e6)) * 10n ** 20n,
      () => new Date(Math.floor(random() * 4e12)),
      () => new Date(NaN),
    ])();
  const shared: object[] = [];
  const make = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.3) return leaf();
    if (shared.length > 0 && random() < 0.1) return pick(shared); // repeated references, cycles too
    const kind = pick(["object", "array", "map", "set"]);
    const size = Math.floor(random() * 5);
    let made: object;
    if (kind === "object") {
      const object: Record<string, unknown> = {};
      shared.push(object);
      for (let i = 0; i < size; i++) {
        object[pick([...strings, "k" + i, "0", "10"])] = make(depth - 1);
      }
      made = object;
    } else if (kind === "array") {
      const array: unknown[] = [];
      shared.push(array);
      for (let i = 0; i < size; i++) array.push(make(depth - 1));
      made = array;
    } else if (kind === "map") {
      const map = new Map<unknown, unknown>();
      shared.push(map);
      for (let i = 0; i < size; i++) map.set(make(depth - 2), make(depth - 1));
      made = map;
    } else {
      const set = new Set<unknown>();
      shared.push(set);
      for (let i = 0; i < size; i++) set.add(make(depth - 1));
      made = set;
    }
    return made;
  };
  let fast = 0;
  for (let round = 0; round < 2000; round++) {
    shared.length = 0;
    const value = make(5);
    const expected = devalueStringify(value);
    const written = fastStringify(value);
    if (written !== undefined) {
      fast++;
      assert.equal(written, expected);
    }
    assert.equal(encode("k", value, "v"), `${MARKER}v:${expected}`);
    // What devalue wrote (the stored format before the fast writer) reads as devalue reads it.
    assert.deepEqual(decode("k", `${MARKER}v:${expected}`), devalueParse(expected));
  }
  assert.ok(fast > 1900, `the fast writer took ${fast} of 2000`);

  // What it leaves to devalue: stored the same way as before, or refused the same way.
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const nullProto = Object.assign(Object.create(null), { a: 1 });
  for (
    const value of [
      { bytes: new Uint8Array([1, 2]) },
      { re: /a+/g },
      { boxed: Object(1) },
      { nullProto },
      { sparse },
      { url: new URL("https://example.com/") },
    ]
  ) {
    assert.equal(fastStringify(value), undefined);
    assert.equal(encode("k", value, "v"), `${MARKER}v:${devalueStringify(value)}`);
    assert.deepEqual(decode("k", encode("k", value, "v")), devalueParse(devalueStringify(value)));
  }
  for (
    const value of [
      { f() {} },
      { s: Symbol("s") },
      { [Symbol("s")]: 1 },
      Object.assign([1], { note: "x" }),
    ]
  ) {
    assert.equal(fastStringify(value), undefined);
    assert.throws(() => encode("k", value, "v"), TypeError);
  }
  // A non-enumerable symbol key (how a tracked session links to its field
  // tracking) is not written, by devalue nor by the fast writer.
  const linked = Object.defineProperty({ visible: 2, list: [1] }, Symbol("hidden"), {
    value: 1,
    enumerable: false,
  });
  assert.equal(fastStringify(linked), devalueStringify(linked));
  const proto = JSON.parse('{"__proto__": 1, "\\u0001k": 2}');
  assert.equal(fastStringify(proto), undefined);
  assert.deepEqual(Object.entries(decode("k", encode("k", proto, "v")) as object), [
    ["__proto__", 1],
    ["\u0001k", 2],
  ]);
});

/** A small deterministic generator (mulberry32). */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("encode: dates are written as devalue writes them, from year 0 to 9999 and beyond", () => {
  const random = seededRandom(11);
  const times = [
    0,
    -1,
    1,
    -62_167_219_200_000,
    -62_167_219_200_001,
    253_402_300_799_999,
    253_402_300_800_000,
    8.64e15,
    -8.64e15,
    951_782_400_000,
    951_868_800_000,
    -2_208_988_800_000,
    NaN,
  ];
  for (let i = 0; i < 20_000; i++) {
    times.push(Math.floor((random() - 0.4) * 5e14), Math.floor((random() - 0.5) * 1.7e16));
  }
  for (const time of times) {
    const date = new Date(time);
    assert.equal(fastStringify(date), devalueStringify(date), `time ${time}`);
  }
});

Deno.test("decode: reads own keys only, as devalue does, even with an enumerable key added to Object.prototype", () => {
  const raw = encode("k", { a: 1, list: [{ b: 2 }] }, "v");
  const proto = Object.prototype as Record<string, unknown>;
  proto.added = 0;
  try {
    const read = decode("k", raw) as Record<string, unknown>;
    assert.deepEqual(Object.keys(read), ["a", "list"]);
    assert.deepEqual(Object.keys((read.list as object[])[0]), ["b"]);
  } finally {
    delete proto.added;
  }
});
