/**
 * How a session is stored in Redis: `MARKER + version + ":" +
 * devalue.stringify(value)`. JSON text never starts with "d", so a value
 * without the marker is a plain `JSON.stringify()` from
 * `@gramio/storage-redis` and is read with `JSON.parse`. The version is a
 * random token written with every value (no ABA: a value rewritten after a
 * read never gets the version back). A legacy value has no token; its version
 * is "sha1:" + the SHA-1 of the stored string, computed the same way here and
 * in the Lua scripts.
 *
 * @module
 */

import {
  defaultStringifyOperations,
  type ParseOperations,
  stringify,
  type StringifyOperations,
  unflatten,
} from "devalue";
import { namedArrayKeys, setOwn } from "../../value_kinds.ts";
import { SessionDataError } from "../../errors.ts";
import { fastStringify, fastUnflatten } from "./_devalue.ts";

/** Starts every value this storage writes. */
export const MARKER = "dv1:";

/** The stored string of `value`, with its `version`; a `TypeError` for what devalue cannot store. */
export function encode(key: string, value: unknown, version: string): string {
  try {
    // The same string either way: devalue's own walk only for what the fast one leaves to it.
    return MARKER + version + ":" +
      (fastStringify(value) ??
        stringify(value, undefined, { operations: stringifyOperations }));
  } catch (error) {
    throw new TypeError(
      `redisStorage: cannot store the session "${key}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The value in a stored string; a `SessionDataError` when it cannot be read. */
export function decode(key: string, raw: string): unknown {
  const start = payloadStart(raw);
  try {
    return start === -1
      ? JSON.parse(raw)
      : fastUnflatten(JSON.parse(raw.slice(start)), devalueUnflatten);
  } catch (error) {
    // Left as it is: the plugin reports it, or starts afresh with onInvalidData: "reset".
    throw new SessionDataError(key, `undecodable (${(error as Error).message})`);
  }
}

/**
 * The version of a stored string: read from its header, or (legacy JSON
 * without one) its SHA-1, which is the only case that needs a promise.
 */
export function versionOf(raw: string): string | Promise<string> {
  const start = payloadStart(raw);
  return start === -1
    ? sha1(raw).then((digest) => `sha1:${digest}`)
    : raw.slice(MARKER.length, start - 1);
}

/**
 * Random words for version tokens, drawn 512 at a time: one
 * `crypto.getRandomValues` call per version cost ~3 µs (a runtime call and a
 * new typed array each time).
 */
const randomWords = new Uint32Array(1024);
let nextWord = randomWords.length;

/** A fresh random version token: 16 hex digits. */
export function newVersion(): string {
  if (nextWord === randomWords.length) {
    crypto.getRandomValues(randomWords);
    nextWord = 0;
  }
  const high = randomWords[nextWord++], low = randomWords[nextWord++];
  return high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0");
}

/** The SHA-1 of `data`, in hex, as Redis' `redis.sha1hex` computes it. */
export async function sha1(data: string): Promise<string> {
  return hex(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(data)),
  );
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(
    new Uint8Array(bytes),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** Where the devalue payload starts, or -1 for a legacy JSON value. */
function payloadStart(raw: string): number {
  if (!raw.startsWith(MARKER)) return -1;
  const stop = raw.indexOf(":", MARKER.length);
  return stop === -1 ? -1 : stop + 1;
}

/*
 * devalue refuses an own key "__proto__" (JSON.parse makes one from user
 * input; memory and KV store it). It is written as "\u0001__proto__", and a
 * key of that form gets one more "\u0001", so that every key reads back as
 * itself, "__proto__" as an own field (never the prototype).
 */
const ESCAPE = "\u0001";

function isProtoLike(key: string): boolean {
  if (!key.endsWith("__proto__")) return false;
  for (let i = 0; i < key.length - 9; i++) if (key[i] !== ESCAPE) return false;
  return true;
}

const stringifyOperations: Partial<StringifyOperations> = {
  shapeOf(value) {
    const shape = defaultStringifyOperations.shapeOf(value);
    if (!("keys" in shape) || !shape.keys.some(isProtoLike)) return shape;
    return { ...shape, keys: shape.keys.map((key) => isProtoLike(key) ? ESCAPE + key : key) };
  },
  // Only the keys shapeOf escaped lose their first "\u0001" (another key starting with one is itself).
  get: (value, key) =>
    (value as Record<string, unknown>)[
      typeof key === "string" && key.charCodeAt(0) === 1 && isProtoLike(key)
        ? key.slice(1)
        : key as string
    ],
  lengthOf(array) {
    // devalue would drop an array's named properties silently.
    const named = namedArrayKeys(array as unknown[]);
    if (named) {
      throw new TypeError(
        `an array has named properties (${named.join(", ")}), which Redis storage cannot keep; ` +
          "use an object for them",
      );
    }
    return (array as unknown[]).length;
  },
};

/** devalue's own reading, for what `fastUnflatten` leaves to it. */
const devalueUnflatten = (parsed: unknown): unknown =>
  unflatten(parsed as number | unknown[], undefined, { operations: parseOperations });

const parseOperations: Partial<ParseOperations> = {
  set(target, key, value) {
    if (typeof key === "string" && key.charCodeAt(0) === 1 && isProtoLike(key)) {
      setOwn(target as Record<string, unknown>, key.slice(1), value);
    } else (target as Record<PropertyKey, unknown>)[key as PropertyKey] = value;
  },
};
