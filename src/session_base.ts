/**
 * What one session's changes are measured against: its fields as read
 * (field_tracking/), or, where fields cannot be followed one by one, a
 * snapshot of the whole (change_detection/). Also how a session is handed
 * out from what was read, and written back so that fields never read cost
 * neither a copy nor a walk.
 *
 * @module
 */

import { hasChanged, type Snapshot, takeSnapshot } from "./change_detection/mod.ts";
import { cloneValue } from "./clone.ts";
import { isFlat, TrackedFields } from "./field_tracking/mod.ts";
import type { SessionRuntime } from "./options.ts";
import { emptyInPlace, resetInPlace } from "./session_data.ts";
import { handOverStored, writeStored } from "./session_io.ts";
import { storedObjectsOf, type StoredShape } from "./storages/memory.ts";
import { encodeSession } from "./stored_value.ts";

/** The session as read (or as last saved), field by field or whole. */
export type SessionBase = TrackedFields | Snapshot;

/**
 * A session to hand out: `data`, the plugin's own copy, or with `shared` the
 * storage's object itself (never changed; `shape`: how its objects are
 * linked). Gives the object handlers get and the base
 * its changes are measured from. `live`: the session object to fill instead
 * (emptied first), for a `$clear()`.
 */
export function handOut(
  data: object,
  live?: object,
  shared?: { shape: StoredShape },
): { session: object; base: SessionBase } {
  if (live) emptyInPlace(live);
  // Tracked by field, the stored object's fields are only read (its depth
  // was checked when stored); tangled, the session is copied whole first.
  const read = shared?.shape === "tangled" ? cloneValue(data) : data;
  const stored = shared !== undefined && read === data;
  if (!isFlat(read)) {
    const tree = stored && shared.shape === "tree";
    const tracked = TrackedFields.track(read, { live, shared: stored, depthKnown: stored, tree });
    if (tracked) return { session: tracked.live, base: tracked };
  }
  // Flat or small (most sessions), an array, or a session that contains
  // itself: a snapshot of the whole, as before field tracking.
  const own = stored ? cloneValue(read, shared!.shape === "tree") : read;
  if (live) resetInPlace(live, own);
  const session = live ?? own;
  return { session, base: takeSnapshot(session) };
}

/** Whether `data` differs from `base`. */
export function changedSince(base: SessionBase, data: object): boolean {
  return base instanceof TrackedFields ? base.hasChanged(data) : hasChanged(base, data);
}

/** A snapshot of `base`, for the conflict paths. */
export function snapshotOf(base: SessionBase): Snapshot {
  return base instanceof TrackedFields ? base.snapshot() : base;
}

/**
 * Encodes and writes `data` (at `version`, see writeStored). Fields the
 * handlers never read go to the storage as read: in memory the new stored
 * object shares them, any other storage serializes them without a copy.
 * `storedVersion`: see encodeSession.
 */
export function writeSession(
  runtime: SessionRuntime,
  key: string,
  base: SessionBase | undefined,
  data: object,
  version: string | null | undefined,
  storedVersion: number | undefined,
): boolean | Promise<boolean> {
  const tracked = base instanceof TrackedFields ? base : undefined;
  const encode = (storable?: (data: object) => object) =>
    encodeSession(data, key, runtime, storedVersion, storable);
  if (tracked && data === tracked.live && storedObjectsOf(runtime.storage)) {
    let shape: StoredShape = "tree";
    const encoded = encode(() => {
      const handed = tracked.handOver();
      shape = handed.shape;
      return handed.value;
    });
    return handOverStored(runtime, key, encoded, version, shape)!;
  }
  if (!tracked) return writeStored(runtime, key, encode(), version);
  const checked = (d: object) => (tracked.checkDepth(d), d);
  return tracked.whileStoring(data, () => writeStored(runtime, key, encode(checked), version));
}
