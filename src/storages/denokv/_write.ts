/**
 * Writing and deleting a session in Deno KV, each in one atomic commit: the
 * head, its chunks when it is large, and the deletion of chunks an earlier,
 * larger value left.
 *
 * @module
 */

import type { SetOptions } from "../../storage.ts";
import {
  isManifestLike,
  manifestOf,
  MAX_CHUNKS,
  MAX_SESSION_BYTES,
  splitIntoChunks,
} from "./_chunks.ts";
import type { KeyLayout } from "./_keys.ts";
import {
  type ExpireOptions,
  expireOptions,
  isLimitError,
  isValueTooLarge,
  tooLarge,
} from "./_limits.ts";
import { serializeForChunks } from "./_serialize.ts";
import { isPlainVersion, versionstampOf } from "./_version.ts";
import type { KvLike } from "./kv.ts";

/**
 * Stores `value` under `key`; `version`: `undefined` writes unconditionally,
 * else only if the head is still at it. Resolves whether it wrote.
 */
export async function writeSession(
  db: KvLike,
  keys: KeyLayout,
  key: string,
  value: unknown,
  version: string | null | undefined,
  setOptions: SetOptions | undefined,
): Promise<boolean> {
  const expire = expireOptions(setOptions);
  const plain = isPlainVersion(version);
  version = versionstampOf(version);
  if (!isManifestLike(value)) {
    // Hot path: the value as is, on the condition that no chunks exist (a
    // check costs less than deleting every possible chunk on each save).
    const op = db.atomic();
    if (version !== undefined) {
      op.check({ key: keys.head(key), versionstamp: version });
    }
    // A plain head never has chunks, so checking that it is still the one
    // read proves there are none. Otherwise (a chunked head, none read, or
    // none there: an expired head may leave chunks behind) check the first chunk.
    if (!plain) op.check({ key: keys.chunk(key, 0), versionstamp: null });
    op.set(keys.head(key), value, expire);
    let result: { ok: boolean } | undefined;
    try {
      result = await op.commit();
    } catch (error) {
      if (!isValueTooLarge(error)) throw error;
    }
    if (result?.ok) return true;
    // A conflict, or chunks of an earlier large value to delete in the same commit.
    if (result) return (await commit(db, keys, key, value, [], version, expire)).ok;
  }
  // Too large for one value, or looks like a manifest: chunks of its
  // serialization, which stays unambiguous.
  const bytes = serializeForChunks(key, value);
  const size = bytes.byteLength;
  if (size > MAX_SESSION_BYTES) {
    throw tooLarge(key, size, `the limit is ${MAX_SESSION_BYTES} bytes`);
  }
  const chunks = splitIntoChunks(bytes);
  const manifest = manifestOf(chunks.length, size, expire !== undefined);
  try {
    return (await commit(db, keys, key, manifest, chunks, version, expire)).ok;
  } catch (error) {
    if (isLimitError(error)) {
      // The first line: Node's @deno/kv appends a native backtrace.
      throw tooLarge(key, size, (error as Error).message.split("\n")[0], error);
    }
    throw error;
  }
}

/** Deletes head and chunks in one commit; `version`: `undefined` deletes unconditionally. */
export async function removeSession(
  db: KvLike,
  keys: KeyLayout,
  key: string,
  version: string | null | undefined,
): Promise<boolean> {
  const op = db.atomic();
  if (version !== undefined) {
    op.check({ key: keys.head(key), versionstamp: versionstampOf(version) });
  }
  op.delete(keys.head(key));
  for (let i = 0; i < MAX_CHUNKS; i++) op.delete(keys.chunk(key, i));
  return (await op.commit()).ok;
}

/** Writes head, chunks and deletions of stale chunks in one commit. */
function commit(
  db: KvLike,
  keys: KeyLayout,
  key: string,
  head: unknown,
  chunks: readonly Uint8Array[],
  version: string | null | undefined,
  expire: ExpireOptions,
): Promise<{ ok: boolean }> {
  const op = db.atomic();
  if (version !== undefined) {
    op.check({ key: keys.head(key), versionstamp: version });
  }
  op.set(keys.head(key), head, expire);
  for (let i = 0; i < chunks.length; i++) {
    op.set(keys.chunk(key, i), chunks[i], expire);
  }
  for (let i = chunks.length; i < MAX_CHUNKS; i++) {
    op.delete(keys.chunk(key, i));
  }
  return op.commit();
}
