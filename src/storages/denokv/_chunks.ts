/**
 * Sessions larger than one Deno KV value: their serialization is split into
 * chunks, and the head holds a small manifest naming how many there are. The
 * chunks are written in the same atomic commit as the head, so all of them
 * share its versionstamp, which is how a read knows they belong together.
 *
 * @module
 */

import { SessionDataError } from "../../errors.ts";

/** Deno KV's largest value, in bytes; chunks are this size. */
export const CHUNK_BYTES = 65_536;
/**
 * Chunks per session. One atomic commit holds 819200 bytes of keys and values
 * (measured on Deno 2.9), so 12 full chunks plus the head and keys fit.
 */
export const MAX_CHUNKS = 12;
/** The largest session, serialized. */
export const MAX_SESSION_BYTES: number = CHUNK_BYTES * MAX_CHUNKS;
/** `getMany` reads at most 10 keys. */
export const GET_MANY_LIMIT = 10;

/** Own property that marks a head as the manifest of a chunked session. */
const MANIFEST = "__gramio_session_chunks__";

/** The head of a chunked session. */
export interface Manifest {
  [MANIFEST]: 1;
  /** Number of chunks. */
  chunks: number;
  /** Serialized size in bytes. */
  bytes: number;
  /** Written with `expireIn`: KV may drop chunks before the head. */
  expires?: true;
}

/** The manifest of `chunks` holding `bytes` bytes. */
export function manifestOf(chunks: number, bytes: number, expires: boolean): Manifest {
  const manifest: Manifest = { [MANIFEST]: 1, chunks, bytes };
  if (expires) manifest.expires = true;
  return manifest;
}

/** A plain object with the manifest marker; a session value like that is stored chunked, so a head like that is always a manifest. */
export function isManifestLike(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    Object.hasOwn(value, MANIFEST);
}

/** `value` as a manifest this version can read; a `SessionDataError` otherwise. */
export function validManifest(key: string, value: Record<string, unknown>): Manifest {
  const { chunks, bytes } = value;
  if (
    value[MANIFEST] !== 1 || typeof chunks !== "number" ||
    !Number.isInteger(chunks) || chunks < 1 ||
    chunks > MAX_CHUNKS || typeof bytes !== "number" ||
    !Number.isInteger(bytes) || bytes < 1
  ) {
    throw new SessionDataError(
      key,
      `an unknown Deno KV chunk manifest (written by a newer version?): ${
        JSON.stringify({ chunks, bytes, format: value[MANIFEST] })
      }`,
    );
  }
  return value as unknown as Manifest;
}

/** `bytes` cut into views of {@linkcode CHUNK_BYTES} (the last one shorter). */
export function splitIntoChunks(bytes: Uint8Array): Uint8Array[] {
  const size = bytes.byteLength;
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < size; start += CHUNK_BYTES) {
    chunks.push(
      new Uint8Array(
        bytes.buffer,
        bytes.byteOffset + start,
        Math.min(CHUNK_BYTES, size - start),
      ),
    );
  }
  return chunks;
}
