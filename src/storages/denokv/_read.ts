/**
 * Reading a session from Deno KV: the head, and for a chunked session its
 * chunks, with a check that every chunk belongs to the head that was read (a
 * write in between is retried, not returned torn).
 *
 * @module
 */

import { SessionDataError } from "../../errors.ts";
import type { VersionedValue } from "../../storage.ts";
import { GET_MANY_LIMIT, isManifestLike, type Manifest, validManifest } from "./_chunks.ts";
import { formatKey, type Key, type KeyLayout } from "./_keys.ts";
import { deserializeChunks } from "./_serialize.ts";
import { plainVersion } from "./_version.ts";
import type { KvLike } from "./kv.ts";

/** Read attempts while the session is rewritten between reading its head and its chunks. */
export const READ_ATTEMPTS = 5;

/** Options of a read from the primary. */
export const STRONG = { consistency: "strong" } as const;

type ReadOptions = { consistency: "strong" | "eventual" };

/** The session under `key` with its version (see `_version.ts`). */
export async function readSession(
  db: KvLike,
  keys: KeyLayout,
  key: string,
  readOptions: ReadOptions,
): Promise<VersionedValue> {
  let stable: string | undefined;
  for (let attempt = 1;; attempt++) {
    // Retries read the primary: a replica may lag between head and chunks.
    const options = attempt === 1 ? readOptions : STRONG;
    const head = await db.get(keys.head(key), options).catch((error) => {
      // A value KV stored but cannot read back (one saved nested too deep).
      if (!/could not deserialize/i.test(String((error as Error)?.message))) throw error;
      throw new SessionDataError(key, `undecodable (Deno KV: ${(error as Error).message})`);
    });
    if (head.versionstamp === null) {
      return { value: undefined, version: null };
    }
    if (!isManifestLike(head.value)) {
      return { value: head.value, version: plainVersion(head.versionstamp) };
    }
    const manifest = validManifest(key, head.value);
    const bytes = await readChunks(db, keys, key, manifest, head.versionstamp, options);
    if (bytes) {
      return { value: deserializeChunks(key, bytes), version: head.versionstamp };
    }
    if (options.consistency === "strong" && stable === head.versionstamp) {
      // The same head on two strong reads around a failed chunk read: no
      // write happened in between, the chunks are gone. KV drops expired
      // entries one by one, so an expiring session may lose chunks first.
      if (manifest.expires) {
        return { value: undefined, version: head.versionstamp };
      }
      const where = formatKey([...keys.chunkRoot, key]);
      throw new SessionDataError(
        key,
        `damaged (Deno KV: its head lists ${manifest.chunks} chunks under ${where}, ` +
          "but some are missing or from another write)",
      );
    }
    if (attempt >= READ_ATTEMPTS) {
      throw new Error(
        `Deno KV storage: no consistent read of session "${key}" after ${READ_ATTEMPTS} attempts: ` +
          "it was rewritten during every read.",
      );
    }
    if (options.consistency === "strong") stable = head.versionstamp;
  }
}

/** Chunk bytes if every chunk belongs to the head at `versionstamp`, else `undefined`. */
async function readChunks(
  db: KvLike,
  keys: KeyLayout,
  key: string,
  manifest: Manifest,
  versionstamp: string,
  options: ReadOptions,
): Promise<Uint8Array | undefined> {
  const batches: Promise<
    readonly { value: unknown; versionstamp: string | null }[]
  >[] = [];
  for (let first = 0; first < manifest.chunks; first += GET_MANY_LIMIT) {
    const batch: Key[] = [];
    for (
      let i = first;
      i < Math.min(first + GET_MANY_LIMIT, manifest.chunks);
      i++
    ) batch.push(keys.chunk(key, i));
    batches.push(
      db.getMany
        ? db.getMany(batch, options)
        : Promise.all(batch.map((chunk) => db.get(chunk, options))),
    );
  }
  const bytes = new Uint8Array(manifest.bytes);
  let offset = 0;
  for (const batch of await Promise.all(batches)) {
    for (const entry of batch) {
      // All entries of one commit share its versionstamp: an older or newer
      // chunk means a write happened between our reads.
      if (
        entry.versionstamp !== versionstamp ||
        !(entry.value instanceof Uint8Array)
      ) return undefined;
      if (offset + entry.value.byteLength > bytes.byteLength) {
        return undefined;
      }
      bytes.set(entry.value, offset);
      offset += entry.value.byteLength;
    }
  }
  return offset === bytes.byteLength ? bytes : undefined;
}
