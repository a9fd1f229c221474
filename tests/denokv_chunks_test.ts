/**
 * The Deno KV storage's private parts, called directly: the chunk manifest
 * and splitting (`_chunks.ts`), the key layout (`_keys.ts`), versions
 * (`_version.ts`) and ttl as `expireIn` (`_limits.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { SessionDataError } from "../mod.ts";
import {
  CHUNK_BYTES,
  isManifestLike,
  manifestOf,
  MAX_CHUNKS,
  splitIntoChunks,
  validManifest,
} from "../src/storages/denokv/_chunks.ts";
import { formatKey, keyLayout } from "../src/storages/denokv/_keys.ts";
import { expireOptions } from "../src/storages/denokv/_limits.ts";
import { isPlainVersion, plainVersion, versionstampOf } from "../src/storages/denokv/_version.ts";

Deno.test("splitIntoChunks: views of CHUNK_BYTES over the same bytes, the last one shorter", () => {
  const bytes = new Uint8Array(2 * CHUNK_BYTES + 5).map((_, i) => i % 251);
  const chunks = splitIntoChunks(bytes.subarray(3));
  assert.deepEqual(chunks.map((chunk) => chunk.byteLength), [CHUNK_BYTES, CHUNK_BYTES, 2]);
  assert.ok(chunks.every((chunk) => chunk.buffer === bytes.buffer), "views, not copies");
  assert.deepEqual(
    new Uint8Array(chunks.flatMap((chunk) => [...chunk])),
    bytes.subarray(3),
  );
  assert.deepEqual(splitIntoChunks(new Uint8Array(0)), []);
});

Deno.test("manifestOf / validManifest / isManifestLike: what is written reads back; anything else is SessionDataError", () => {
  const manifest = manifestOf(3, 150_000, true);
  assert.ok(isManifestLike(manifest));
  assert.equal(validManifest("k", manifest), manifest);
  assert.equal(manifestOf(1, 10, false).expires, undefined);
  assert.equal(isManifestLike({ chunks: 3, bytes: 10 }), false);
  assert.equal(isManifestLike(null), false);
  for (
    const bad of [
      { ...manifest, __gramio_session_chunks__: 2 },
      { ...manifest, chunks: 0 },
      { ...manifest, chunks: MAX_CHUNKS + 1 },
      { ...manifest, chunks: 1.5 },
      { ...manifest, bytes: "10" },
    ]
  ) {
    assert.throws(
      () => validManifest("k", bad as Record<string, unknown>),
      (error) =>
        error instanceof SessionDataError && /unknown Deno KV chunk manifest/.test(error.message),
      JSON.stringify(bad),
    );
  }
});

Deno.test("keyLayout: heads under the prefix, chunks after every head; an empty prefix is refused", () => {
  const keys = keyLayout(["bot", 2]);
  assert.deepEqual(keys.head("42"), ["bot", 2, "42"]);
  assert.deepEqual(keys.chunk("42", 3), ["bot", 2, 0, "42", 3]);
  assert.deepEqual(keys.chunkRoot, ["bot", 2, 0]);
  assert.ok(Object.isFrozen(keys.prefix));
  assert.throws(() => keyLayout([]), RangeError);
  assert.equal(formatKey(keys.chunk("42", 0)), '["bot", 2, 0, "42", 0]');
});

Deno.test("plainVersion / isPlainVersion / versionstampOf: the mark comes off, other versions pass as they are", () => {
  const stamp = "00000000000000010000";
  assert.ok(isPlainVersion(plainVersion(stamp)));
  assert.equal(versionstampOf(plainVersion(stamp)), stamp);
  assert.equal(isPlainVersion(stamp), false);
  assert.equal(versionstampOf(stamp), stamp);
  assert.equal(versionstampOf(null), null);
  assert.equal(versionstampOf(undefined), undefined);
});

Deno.test("expireOptions: a ttl as whole milliseconds of expireIn, none without one", () => {
  assert.equal(expireOptions(undefined), undefined);
  assert.equal(expireOptions({}), undefined);
  assert.deepEqual(expireOptions({ ttl: 1500.2 }), { expireIn: 1501 });
  assert.throws(() => expireOptions({ ttl: 0 }), RangeError);
});
