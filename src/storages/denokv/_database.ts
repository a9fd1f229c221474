/**
 * The database of a Deno KV storage: the one passed in, a Promise of it, or
 * `Deno.openKv()` opened on first use when none was passed. Once known, it is
 * used synchronously (no await per call), with busy retries around it.
 *
 * @module
 */

import { isThenable } from "../../thenable.ts";
import { retryingWhenBusy } from "./_busy.ts";
import type { KvLike } from "./kv.ts";

/** A database that may still be opening. */
export class LazyKv {
  /** The database, once known: use it without awaiting `open()`. */
  resolved: KvLike | undefined;
  #opening: Promise<KvLike> | undefined;
  readonly #kv: KvLike | Promise<KvLike> | undefined;

  /** `kv` omitted: `Deno.openKv()` on first use, closed by {@linkcode LazyKv.close}. */
  constructor(kv: KvLike | Promise<KvLike> | undefined) {
    this.#kv = kv;
    if (kv !== undefined && !isThenable(kv)) this.resolved = retryingWhenBusy(kv);
  }

  /** The database, opening it on first use. */
  open(): KvLike | Promise<KvLike> {
    if (this.resolved) return this.resolved;
    return this.#opening ??= Promise.resolve(this.#kv ?? openDefaultKv()).then(
      (db) => this.resolved = retryingWhenBusy(db),
      (error) => {
        this.#opening = undefined; // let the next use try again
        throw error;
      },
    );
  }

  /**
   * Closes the database if it was opened here (no `kv` given); a database
   * passed in belongs to the caller. A later `open()` opens it again.
   */
  async close(): Promise<void> {
    if (this.#kv !== undefined || !this.#opening) return;
    const pending = this.#opening;
    this.#opening = undefined;
    this.resolved = undefined;
    let db: KvLike;
    try {
      db = await pending;
    } catch {
      return; // never opened
    }
    db.close?.();
  }
}

function openDefaultKv(): Promise<KvLike> {
  // Looked up at runtime so that the types, and the npm build, never need Deno's.
  const deno = (globalThis as { Deno?: { openKv?: (path?: string) => Promise<KvLike> } })
    .Deno;
  if (typeof deno?.openKv !== "function") {
    return Promise.reject(
      new Error(
        "denoKvStorage(): Deno.openKv is not available here. On Deno, enable KV with " +
          '"unstable": ["kv"] in deno.json or --unstable-kv; elsewhere pass a kv, e.g. openKv from @deno/kv on Node: ' +
          'denoKvStorage(openKv("sessions.db")).',
      ),
    );
  }
  return deno.openKv();
}
