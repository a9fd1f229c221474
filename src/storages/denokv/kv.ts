/**
 * The part of a Deno KV database the storage uses, typed structurally so that
 * `Deno.Kv` and `@deno/kv`'s `Kv` (Node) both fit without either's types.
 *
 * @module
 */

/**
 * One part of a Deno KV key. A subset of `Deno.KvKeyPart` and of `@deno/kv`'s
 * `KvKeyPart`, so a prefix typed with it fits both.
 *
 * @example
 * ```ts
 * import type { KvKeyPart } from "@gramio/session";
 *
 * const prefix: KvKeyPart[] = ["my-bot", "sessions", 2];
 * ```
 */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean;

/**
 * The part of a Deno KV database this storage uses, typed structurally so
 * that `Deno.Kv` and `@deno/kv`'s `Kv` (Node) both fit without either's types.
 *
 * @example A database from `@deno/kv` (works on Node and Deno)
 * ```ts
 * import { openKv } from "@deno/kv";
 * import { denoKvStorage, type KvLike } from "@gramio/session";
 *
 * const kv: KvLike = await openKv("sessions.db");
 * const storage = denoKvStorage(kv);
 * ```
 */
export interface KvLike {
  /** Reads one entry; `versionstamp` is `null` when the key is absent. */
  get(
    key: readonly KvKeyPart[],
    options?: { consistency?: "strong" | "eventual" },
  ): Promise<{ value: unknown; versionstamp: string | null }>;
  /** Reads up to 10 entries in one snapshot. Without it, chunks are read one by one. */
  getMany?(
    keys: readonly (readonly KvKeyPart[])[],
    options?: { consistency?: "strong" | "eventual" },
  ): Promise<readonly { value: unknown; versionstamp: string | null }[]>;
  /** Starts an atomic operation. */
  atomic(): {
    check(
      ...checks: { key: readonly KvKeyPart[]; versionstamp: string | null }[]
    ): unknown;
    set(
      key: readonly KvKeyPart[],
      value: unknown,
      options?: { expireIn?: number },
    ): unknown;
    delete(key: readonly KvKeyPart[]): unknown;
    commit(): Promise<{ ok: boolean }>;
  };
  /** Lists the entries under `prefix` that sort before `end`. */
  list(
    selector: { prefix: readonly KvKeyPart[]; end: readonly KvKeyPart[] },
    options?: { consistency?: "strong" | "eventual" },
  ): AsyncIterable<{ key: readonly unknown[] }>;
  /** Closes the database; called by {@linkcode DenoKvStorage.close} on a database the storage opened. */
  close?(): void;
}
