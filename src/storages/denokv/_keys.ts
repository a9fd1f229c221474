/**
 * Where a session lives in Deno KV, under the storage's `prefix` (default
 * `["gramio-session"]`):
 * - `[...prefix, sessionKey]`: the head, the session itself, or for a large
 *   one a small manifest naming its chunk count;
 * - `[...prefix, 0, sessionKey, i]`: chunk `i` of a large session. A number
 *   part sorts after every string, so listing the heads never reads chunks.
 *
 * @module
 */

import type { KvKeyPart } from "./kv.ts";

/** A Deno KV key. */
export type Key = readonly KvKeyPart[];

/** Key part between the prefix and the session key of chunk entries. */
const CHUNKS_PART = 0;

/** The keys of one storage's sessions. */
export interface KeyLayout {
  /** The storage's prefix, frozen. */
  readonly prefix: Key;
  /** Where chunk entries start: listing the heads stops there. */
  readonly chunkRoot: Key;
  /** The head of a session. */
  head(key: string): Key;
  /** Chunk `index` of a large session. */
  chunk(key: string, index: number): Key;
}

/** The key layout under `prefix`; a `RangeError` if it is empty. */
export function keyLayout(prefix: Key): KeyLayout {
  const frozen: Key = Object.freeze([...prefix]);
  if (frozen.length === 0) {
    throw new RangeError(
      "denoKvStorage(): prefix needs at least one part, so sessions do not mix with the database's other keys.",
    );
  }
  return {
    prefix: frozen,
    chunkRoot: [...frozen, CHUNKS_PART],
    head: (key) => [...frozen, key],
    chunk: (key, index) => [...frozen, CHUNKS_PART, key, index],
  };
}

/** A key as a reader writes it: `["gramio-session", 0, "42"]`. */
export function formatKey(key: Key): string {
  return `[${
    key.map((part) => typeof part === "string" ? JSON.stringify(part) : String(part)).join(", ")
  }]`;
}
