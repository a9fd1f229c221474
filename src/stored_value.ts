/**
 * A stored value and session data, both ways: one decode for every read (the
 * load, and the re-read of another process's save before a merge) and one
 * encode for every write. Decoding unwraps the record envelope (record.ts),
 * drops an expired session, runs `migrations` and checks that what is left
 * is an object; encoding checks the depth, stamps the expiry and the data
 * version, and copies what a storage might keep.
 *
 * @module
 */

import { cloneValue } from "./clone.ts";
import { DepthError, MAX_DEPTH } from "./depth_limit.ts";
import { returnsCopies } from "./returns_copies.ts";
import { SessionDataError, SessionError } from "./errors.ts";
import type { Migrator } from "./migrations.ts";
import { decodeRecord, encodeRecord, type SessionRecord } from "./record.ts";
import type { Storage } from "./storage.ts";
import { assertStorableDepth } from "./storable_depth.ts";

/** The options decoding and encoding follow (a `SessionRuntime` has them all). */
export interface StoredValueRules {
  /** Whether it keeps rich values (`richValues`) and hands out copies (`RETURNS_COPIES`). */
  readonly storage: Storage;
  /** Milliseconds a saved session lives (`ttl`). */
  readonly ttl: number | undefined;
  readonly clock: () => number;
  /** Upgrades stored data (`migrations`). */
  readonly migrate: Migrator["migrate"] | undefined;
  /** The `migrations` version new data is saved at. */
  readonly dataVersion: number | undefined;
  /** `onInvalidData: "reset"`: unusable stored data reads as absent instead of throwing. */
  readonly resetInvalid: boolean;
}

/** A stored value, decoded. */
export interface DecodedSession {
  /**
   * The session data; `undefined` when there is none to use: nothing stored,
   * expired, or unusable with `onInvalidData: "reset"`.
   */
  readonly data: object | undefined;
  /** The `migrations` version the stored data was at: kept when this plugin has none. */
  readonly version: number | undefined;
  /** Migrations ran: the session is saved even if handlers change nothing. */
  readonly migrated: boolean;
  /** The saved `ttl` ran out (for logs). */
  readonly expired: boolean;
  /** `data` is (or holds) the stored object itself: never to be changed. */
  readonly shared?: boolean;
}

const NOTHING: DecodedSession = {
  data: undefined,
  version: undefined,
  migrated: false,
  expired: false,
};
const EXPIRED: DecodedSession = { ...NOTHING, expired: true };

/**
 * Decodes what a storage returned for `sessionKey`. Unusable data (not an
 * object, undecodable, nested too deep) throws `SessionDataError`, or with
 * `resetInvalid` reads as absent; a newer data version or a failing
 * migration throws `SessionError`. `shared`: `stored` is the storage's own
 * object, never to be changed (migrations are given a copy).
 */
export function decodeSession(
  stored: unknown,
  sessionKey: string,
  rules: StoredValueRules,
  shared = false,
): DecodedSession {
  if (stored === undefined || stored === null) return NOTHING;
  let record: SessionRecord;
  try {
    // A storage that may hand out its live object (a Map) gets a copy, so that
    // a failed update or late work cannot change what it holds. (Only objects:
    // anything else is not a session, and says so below.)
    const own = returnsCopies(rules.storage) || typeof stored !== "object"
      ? stored
      : cloneValue(stored);
    record = decodeRecord(own, sessionKey);
  } catch (error) {
    // Nested too deep to copy (written by something else), or an encoded
    // record that cannot be decoded: like any bad stored value.
    if (error instanceof DepthError) return invalidData(rules, tooDeep(sessionKey));
    if (error instanceof SessionDataError) return invalidData(rules, error);
    throw error;
  }
  if (record.expiresAt !== undefined && record.expiresAt <= rules.clock()) return EXPIRED;
  if (shared && rules.migrate && (record.version ?? 0) !== rules.dataVersion) {
    // Migration steps may change what they are given: never the stored object.
    record = { ...record, data: cloneValue(record.data) };
    shared = false;
  }
  const result = rules.migrate?.(record, sessionKey);
  const data = result ? result.data : record.data;
  const migrated = result?.migrated ?? false;
  if (typeof data !== "object" || data === null) {
    if (!rules.resetInvalid) {
      throw new SessionDataError(sessionKey, data === null ? "null" : `a ${typeof data}`);
    }
    return { data: undefined, version: record.version, migrated, expired: false };
  }
  return { data, version: record.version, migrated, expired: false, shared };
}

/**
 * The stored form of `data`. `storedVersion` is the version the data was read
 * at: without migrations here it is kept, so that adding them back later does
 * not run old ones again. Throws `SessionError` for data nested deeper than a
 * storage can read back, or that a JSON-only storage cannot keep.
 * `storable` gives what to store for `data` and throws a `DepthError` when
 * it nests too deep (by default: `data` itself, after a walk of all of it).
 */
export function encodeSession(
  data: object,
  sessionKey: string,
  rules: StoredValueRules,
  storedVersion: number | undefined,
  storable: (data: object) => object = checkedWhole,
): unknown {
  const { ttl, clock, dataVersion, storage } = rules;
  try {
    data = storable(data);
  } catch (error) {
    // Refused before any storage call: deeper data saves but cannot be read back.
    if (!(error instanceof DepthError)) throw error;
    throw new SessionError(`Session "${sessionKey}": ${error.message}`, sessionKey, {
      cause: error,
    });
  }
  const record = encodeRecord(
    {
      data,
      expiresAt: ttl === undefined ? undefined : clock() + ttl,
      version: dataVersion ?? storedVersion,
    },
    // A storage that does not say it keeps rich values may keep JSON only.
    storage.richValues !== true,
    sessionKey,
  );
  // A storage that may keep the object it is given (a Map) gets a copy.
  return returnsCopies(storage) ? record : cloneValue(record);
}

function checkedWhole(data: object): object {
  assertStorableDepth(data);
  return data;
}

/** Stored data nested deeper than a session may be: unusable. */
export function tooDeep(sessionKey: string): SessionDataError {
  return new SessionDataError(sessionKey, `nested more than ${MAX_DEPTH} levels deep`);
}

/** Unusable stored data: `error`, or with `onInvalidData: "reset"` no session (the save overwrites it). */
function invalidData(rules: StoredValueRules, error: SessionDataError): DecodedSession {
  if (!rules.resetInvalid) throw error;
  return NOTHING;
}
