/**
 * Writing and deleting a session in Deno KV, each in one atomic commit: the
 * head, its chunks when it is large, and the deletion of chunks an earlier,
 * larger value left.
 *
 * @module
 */

import type { SetOptions } from "../../storage.ts";
import {
  CHUNK_BYTES,
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
import { serializeForChunks, serializeIfAvailable } from "./_serialize.ts";
import { surelyFitsOneValue } from "./_size.ts";
import { isPlainVersion, versionstampOf } from "./_version.ts";
import type { KvLike } from "./kv.ts";

/**
 * Stores `value` under `key`; `version`: `undefined` writes unconditionally,
 * else only if the head is still at it. Resolves whether it wrote.
 *
 * A session is serialized once per save: by KV when it is stored whole, by
 * `node:v8` when it is chunked. Which one is decided before writing: from the
 * version read, or without one (a new session, an unconditional write) from
 * a bound of its size (`_size.ts`). A chunked session, or one that may not
 * fit in one value, is serialized here first (KV would serialize it only to
 * refuse it); any other is handed to KV as it is. Only the save on which a
 * stored session outgrows one value is refused once and serialized again.
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
  const write: Write = { db, keys, key, version: versionstampOf(version), expire };
  if (isManifestLike(value)) {
    // Looks like a manifest: chunks of its serialization, which stays unambiguous.
    return writeChunks(write, serializeForChunks(key, value));
  }
  if (typeof version === "string" ? !isPlainVersion(version) : !surelyFitsOneValue(value)) {
    return writeOverChunks(write, value);
  }
  // Hot path: the value as is, on the condition that no chunks exist (a
  // check costs less than deleting every possible chunk on each save).
  const op = db.atomic();
  if (write.version !== undefined) {
    op.check({ key: keys.head(key), versionstamp: write.version });
  }
  // A plain head never has chunks, so checking that it is still the one
  // read proves there are none. Otherwise (none read, or none there: an
  // expired head may leave chunks behind) check the first chunk.
  if (!isPlainVersion(version)) op.check({ key: keys.chunk(key, 0), versionstamp: null });
  op.set(keys.head(key), value, expire);
  const result = await unlessTooLarge(op.commit());
  if (result?.ok) return true;
  // A conflict, or chunks of an earlier large value to delete in the same commit.
  if (result) return (await commit(write, value, [])).ok;
  // The session outgrew one value on this save.
  return writeChunks(write, serializeForChunks(key, value));
}

/** One write: where, on which condition (`version`: a bare versionstamp), with which expiry. */
interface Write {
  db: KvLike;
  keys: KeyLayout;
  key: string;
  version: string | null | undefined;
  expire: ExpireOptions;
}

/**
 * Over a chunked session (or a bare versionstamp), or a session that may not
 * fit in one value: serialized first. Large: chunks; else stored as it is,
 * old chunks deleted in the same commit.
 */
async function writeOverChunks(write: Write, value: unknown): Promise<boolean> {
  // Without node:v8 (Deno Deploy's classic runtime) KV decides: too large, the error says why.
  const bytes = serializeIfAvailable(write.key, value);
  if (bytes !== undefined && bytes.byteLength > CHUNK_BYTES) return writeChunks(write, bytes);
  // node:v8 sizes typed arrays a little differently from KV: KV may still refuse it.
  const result = await unlessTooLarge(commit(write, value, []));
  return result ? result.ok : writeChunks(write, bytes ?? serializeForChunks(write.key, value));
}

/** `bytes`, a serialized session, as chunks under a manifest. */
async function writeChunks(write: Write, bytes: Uint8Array): Promise<boolean> {
  const size = bytes.byteLength;
  if (size > MAX_SESSION_BYTES) {
    throw tooLarge(write.key, size, `the limit is ${MAX_SESSION_BYTES} bytes`);
  }
  const chunks = splitIntoChunks(bytes);
  const manifest = manifestOf(chunks.length, size, write.expire !== undefined);
  try {
    return (await commit(write, manifest, chunks)).ok;
  } catch (error) {
    if (isLimitError(error)) {
      // The first line: Node's @deno/kv appends a native backtrace.
      throw tooLarge(write.key, size, (error as Error).message.split("\n")[0], error);
    }
    throw error;
  }
}

/** The commit's result, or `undefined` when KV refused the value as too large for one entry. */
async function unlessTooLarge(
  committing: Promise<{ ok: boolean }>,
): Promise<{ ok: boolean } | undefined> {
  try {
    return await committing;
  } catch (error) {
    if (!isValueTooLarge(error)) throw error;
    return undefined;
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
  { db, keys, key, version, expire }: Write,
  head: unknown,
  chunks: readonly Uint8Array[],
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
