/**
 * What the plugin writes to storage. Plain session data when the session has
 * no `ttl` and no `migrations` (readable by the original plugin and by
 * anything else), otherwise an envelope that adds the expiry stamp and the
 * data version. Both forms are read whatever the options, so turning `ttl` or
 * `migrations` on or off keeps existing sessions.
 *
 * For a JSON-only storage (one without `richValues`, such as the
 * `@gramio/storage-*` adapters), data that JSON would change (a `Date` turned
 * into a string, a `Set` into `{}`) is stored encoded with devalue in an
 * envelope with `encoding: "devalue"`; data JSON keeps exactly is stored as
 * before. Values devalue cannot encode either (class instances, functions)
 * are refused with an error naming the session key and the field.
 *
 * Data that has the envelope's marker field at its top level is always
 * enveloped, so plain stored data never has it and user data round-trips
 * whatever its shape (`{ "@gramio/session": 1, data: 42 }` included).
 *
 * @module
 */

import { DevalueError, parse, stringify } from "devalue";
import { SessionDataError, SessionError } from "./errors.ts";

/** The envelope's marker field; its value is the envelope format version. */
export const ENVELOPE_MARK = "@gramio/session";

/** A decoded stored session. */
export interface SessionRecord {
  data: unknown;
  /** Milliseconds since the epoch after which the record reads as absent. */
  expiresAt?: number;
  /** The `migrations` version the data is at. */
  version?: number;
}

interface Envelope {
  [ENVELOPE_MARK]: 1;
  data: unknown;
  expiresAt?: number;
  version?: number;
  /** `"devalue"`: `data` is a devalue string (written for a JSON-only storage). */
  encoding?: string;
}

/** The only `encoding` there is. */
const DEVALUE = "devalue";

/**
 * The stored form of a record. `forJson`: the storage keeps JSON only, so
 * data JSON would change is encoded; `sessionKey` names it in the error
 * when it cannot be.
 */
export function encodeRecord(record: SessionRecord, forJson = false, sessionKey = ""): unknown {
  const encoded = forJson && !jsonKeeps(record.data, undefined);
  if (
    !encoded && record.expiresAt === undefined && record.version === undefined &&
    !hasMark(record.data)
  ) {
    return record.data;
  }
  const envelope: Envelope = {
    [ENVELOPE_MARK]: 1,
    data: encoded ? encodeData(record.data, sessionKey) : record.data,
  };
  if (record.expiresAt !== undefined) envelope.expiresAt = record.expiresAt;
  if (record.version !== undefined) envelope.version = record.version;
  if (encoded) envelope.encoding = DEVALUE;
  return envelope;
}

/**
 * Reads a stored value written by {@linkcode encodeRecord} or by any older
 * plugin. Throws `SessionDataError` for an encoded record it cannot decode.
 */
export function decodeRecord(stored: unknown, sessionKey = ""): SessionRecord {
  if (isEnvelope(stored)) {
    const { data, expiresAt, version, encoding } = stored;
    if (encoding === undefined) return { data, expiresAt, version };
    return { data: decodeData(data, encoding, sessionKey), expiresAt, version };
  }
  return { data: stored };
}

function encodeData(data: unknown, sessionKey: string): string {
  try {
    return stringify(data);
  } catch (error) {
    const path = error instanceof DevalueError ? error.path.replace(/^\./, "") : "";
    const reason = error instanceof Error ? error.message : String(error);
    throw new SessionError(
      `Session "${sessionKey}" was not saved: the value at "${path || "(root)"}" cannot be ` +
        `stored (${reason}). This storage keeps JSON only; the plugin encodes Date, Map, Set, BigInt, ` +
        "RegExp, typed arrays, undefined and repeated references for it, but not class instances, " +
        "functions or symbols. Store plain data there (e.g. the instance's fields). Nothing was written.",
      sessionKey,
      { cause: error },
    );
  }
}

function decodeData(data: unknown, encoding: string, sessionKey: string): unknown {
  if (encoding !== DEVALUE || typeof data !== "string") {
    const what = `encoded as ${JSON.stringify(encoding)}`;
    throw new SessionDataError(
      sessionKey,
      `${what}, which this version cannot read (written by a newer version?)`,
    );
  }
  try {
    return parse(data);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SessionDataError(sessionKey, `undecodable (${reason})`);
  }
}

/**
 * Whether a JSON round trip gives `value` back as it is: plain objects and
 * arrays of strings, finite numbers, booleans and null, each object reached
 * once. A field set to `undefined` counts as kept (JSON leaves it out, and it
 * reads the same). Anything else (Date, Map, Set, BigInt, NaN, -0, holes,
 * cycles, shared references, class instances) is not.
 */
function jsonKeeps(value: unknown, seen: Visited | undefined): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  seen ??= new Visited();
  if (!seen.first(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !jsonKeeps(value[i], seen)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const field in value) {
    const child = (value as Record<string, unknown>)[field];
    if (child !== undefined && !jsonKeeps(child, seen)) return false;
  }
  return true;
}

/** Objects reached so far: a short list (cheaper than a Set for small sessions), then a Set. */
class Visited {
  #list: object[] = [];
  #set: Set<object> | undefined;

  /** Whether `value` is reached for the first time; remembers it. */
  first(value: object): boolean {
    if (this.#set) {
      if (this.#set.has(value)) return false;
      this.#set.add(value);
      return true;
    }
    if (this.#list.includes(value)) return false;
    this.#list.push(value);
    if (this.#list.length > 32) this.#set = new Set(this.#list);
    return true;
  }
}

function hasMark(data: unknown): boolean {
  return typeof data === "object" && data !== null && Object.hasOwn(data, ENVELOPE_MARK);
}

const ENVELOPE_FIELDS = new Set([ENVELOPE_MARK, "data", "expiresAt", "version", "encoding"]);

/**
 * An envelope has the mark, `data`, and nothing but envelope fields. Anything
 * else is plain data, as written by older versions (which stored data with a
 * field named like the mark, but no other envelope shape, as it was).
 */
function isEnvelope(stored: unknown): stored is Envelope {
  if (typeof stored !== "object" || stored === null) return false;
  const envelope = stored as Partial<Envelope>;
  if (envelope[ENVELOPE_MARK] !== 1 || !Object.hasOwn(envelope, "data")) return false;
  for (const key in envelope) if (!ENVELOPE_FIELDS.has(key)) return false;
  return (envelope.expiresAt === undefined || typeof envelope.expiresAt === "number") &&
    (envelope.version === undefined || typeof envelope.version === "number") &&
    (envelope.encoding === undefined || typeof envelope.encoding === "string");
}
