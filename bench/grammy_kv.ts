/**
 * grammY's sessions on Deno KV as grammY users have them: a `StorageAdapter`
 * over `Deno.openKv`, written like `@grammyjs/storage-denokv` (`[...prefix,
 * key]`, the value as is, no versionstamp checks, no TTL). That package lives
 * outside npm, so its few lines are written out here.
 *
 * @module
 */

import type { StorageAdapter } from "grammy";

/** A grammY storage adapter on a Deno KV database. */
export class DenoKvAdapter<T> implements StorageAdapter<T> {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["sessions"],
  ) {}

  async read(key: string): Promise<T | undefined> {
    const result = await this.kv.get<T>([...this.prefix, key]);
    return result.value !== null ? result.value : undefined;
  }

  async write(key: string, value: T): Promise<void> {
    await this.kv.set([...this.prefix, key], value);
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete([...this.prefix, key]);
  }
}
