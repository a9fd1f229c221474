/**
 * decodeSession and encodeSession (src/stored_value.ts) called directly:
 * absent, expired, migrated, unusable and copied stored values, and what a
 * write stores for rich and JSON-only storages.
 */
import assert from "node:assert/strict";
import { MAX_DEPTH } from "../src/depth_limit.ts";
import { markReturnsCopies } from "../src/returns_copies.ts";
import { createMigrator } from "../src/migrations.ts";
import { ENVELOPE_MARK } from "../src/record.ts";
import {
  decodeSession,
  encodeSession,
  type StoredValueRules,
  tooDeep,
} from "../src/stored_value.ts";
import { SessionDataError, SessionError, type Storage } from "../mod.ts";

/** A storage the plugin must copy for: it may keep and hand out live objects. */
function plainStorage(richValues = true): Storage {
  const map = new Map<string, unknown>();
  return {
    richValues,
    get: (key) => map.get(key),
    set: (key, value) => void map.set(key, value),
    has: (key) => map.has(key),
    delete: (key) => void map.delete(key),
  };
}

const NOW = 1_000_000;

function rules(overrides: Partial<StoredValueRules> = {}): StoredValueRules {
  return {
    storage: markReturnsCopies(plainStorage()),
    ttl: undefined,
    clock: () => NOW,
    migrate: undefined,
    dataVersion: undefined,
    resetInvalid: false,
    ...overrides,
  };
}

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { next: value };
  return value;
}

Deno.test("decodeSession: nothing stored is no session, not an error", () => {
  for (const stored of [undefined, null]) {
    assert.deepEqual(decodeSession(stored, "42", rules()), {
      data: undefined,
      version: undefined,
      migrated: false,
      expired: false,
    });
  }
});

Deno.test("decodeSession: plain data and an envelope give the data and its version", () => {
  assert.deepEqual(decodeSession({ count: 1 }, "42", rules()).data, { count: 1 });
  const enveloped = { [ENVELOPE_MARK]: 1, data: { count: 2 }, version: 3, expiresAt: NOW + 1 };
  const decoded = decodeSession(enveloped, "42", rules());
  assert.deepEqual(decoded.data, { count: 2 });
  assert.equal(decoded.version, 3);
  assert.equal(decoded.expired, false);
});

Deno.test("decodeSession: an expired record is no session, and says so", () => {
  const stored = { [ENVELOPE_MARK]: 1, data: { count: 2 }, version: 3, expiresAt: NOW };
  const decoded = decodeSession(stored, "42", rules());
  assert.equal(decoded.data, undefined);
  assert.equal(decoded.expired, true);
  assert.equal(decoded.version, undefined, "an expired session's version is not kept");
});

Deno.test("decodeSession: migrations run from the stored version, and say so", () => {
  const migrate = createMigrator({
    1: (old: { n: number }) => ({ count: old.n }),
    2: (old: { count: number }) => ({ ...old, pears: 0 }),
  }).migrate;
  const fromOne = decodeSession({ [ENVELOPE_MARK]: 1, data: { count: 5 }, version: 1 }, "42", {
    ...rules(),
    migrate,
  });
  assert.deepEqual(fromOne.data, { count: 5, pears: 0 });
  assert.equal(fromOne.migrated, true);
  assert.equal(fromOne.version, 1);
  const current = decodeSession({ [ENVELOPE_MARK]: 1, data: { count: 5 }, version: 2 }, "42", {
    ...rules(),
    migrate,
  });
  assert.equal(current.migrated, false);
  assert.throws(
    () =>
      decodeSession({ [ENVELOPE_MARK]: 1, data: {}, version: 9 }, "42", { ...rules(), migrate }),
    (error) =>
      error instanceof SessionError && /newer than the newest migration/.test(error.message),
  );
});

Deno.test("decodeSession: data that cannot be a session is SessionDataError, or none with resetInvalid", () => {
  const unusable: [unknown, RegExp][] = [
    [42, /is a number/],
    ["text", /is a string/],
    [{ [ENVELOPE_MARK]: 1, data: null }, /is null/],
    [{ [ENVELOPE_MARK]: 1, data: "{{", encoding: "devalue" }, /undecodable/],
    [{ [ENVELOPE_MARK]: 1, data: "x", encoding: "zstd" }, /encoded as "zstd"/],
  ];
  for (const [stored, message] of unusable) {
    assert.throws(
      () => decodeSession(stored, "42", rules()),
      (error) =>
        error instanceof SessionDataError && error.sessionKey === "42" &&
        message.test(error.message),
    );
    assert.equal(decodeSession(stored, "42", rules({ resetInvalid: true })).data, undefined);
  }
  // Reset keeps the version the bad data was at, so a later save does not rerun migrations.
  const reset = decodeSession({ [ENVELOPE_MARK]: 1, data: 7, version: 4 }, "42", {
    ...rules(),
    resetInvalid: true,
  });
  assert.equal(reset.version, 4);
});

Deno.test("decodeSession: a live object of a plain storage is copied; a copying storage's is not", () => {
  const stored = { list: [1, 2], when: new Date(0) };
  const copied = decodeSession(stored, "42", rules({ storage: plainStorage() })).data;
  assert.deepEqual(copied, stored);
  assert.notEqual(copied, stored);
  assert.notEqual((copied as typeof stored).list, stored.list);
  assert.equal(decodeSession(stored, "42", rules()).data, stored);
});

Deno.test("decodeSession: a live object nested too deep to copy is unusable data", () => {
  const stored = nested(MAX_DEPTH + 5);
  assert.throws(
    () => decodeSession(stored, "42", rules({ storage: plainStorage() })),
    (error) => error instanceof SessionDataError && error.message === tooDeep("42").message,
  );
  const reset = rules({ storage: plainStorage(), resetInvalid: true });
  assert.equal(decodeSession(stored, "42", reset).data, undefined);
});

Deno.test("encodeSession: plain data as it is; ttl and data version in an envelope", () => {
  const data = { count: 1 };
  assert.equal(encodeSession(data, "42", rules(), undefined), data, "a copying storage: no copy");
  const copy = encodeSession(data, "42", rules({ storage: plainStorage() }), undefined);
  assert.deepEqual(copy, data);
  assert.notEqual(copy, data, "a storage that may keep it gets a copy");

  assert.deepEqual(encodeSession(data, "42", rules({ ttl: 500, dataVersion: 2 }), 1), {
    [ENVELOPE_MARK]: 1,
    data,
    expiresAt: NOW + 500,
    version: 2,
  });
  // Without migrations here, the version the data was read at is kept.
  assert.deepEqual(encodeSession(data, "42", rules(), 3), { [ENVELOPE_MARK]: 1, data, version: 3 });
});

Deno.test("encodeSession: a JSON-only storage gets what JSON would change encoded; decoding restores it", () => {
  const json = rules({ storage: markReturnsCopies(plainStorage(false)) });
  const plain = { count: 1, tags: ["a"] };
  assert.equal(encodeSession(plain, "42", json, undefined), plain);
  const rich = { when: new Date(5), seen: new Set([1]) };
  const stored = encodeSession(rich, "42", json, undefined) as Record<string, unknown>;
  assert.equal(stored.encoding, "devalue");
  assert.equal(typeof stored.data, "string");
  assert.deepEqual(decodeSession(JSON.parse(JSON.stringify(stored)), "42", json).data, rich);
});

Deno.test("encodeSession: refuses what no storage could read back, naming the session", () => {
  assert.throws(
    () => encodeSession(nested(MAX_DEPTH + 1), "42", rules(), undefined),
    (error) =>
      error instanceof SessionError && !(error instanceof SessionDataError) &&
      error.sessionKey === "42" && /nested more than 1000 levels/.test(error.message),
  );
  const json = rules({ storage: markReturnsCopies(plainStorage(false)) });
  assert.throws(
    () => encodeSession({ field: new (class Point {})() }, "42", json, undefined),
    (error) => error instanceof SessionError && /"field"/.test(error.message),
  );
});
