/**
 * Per-key mutual exclusion inside one process. Updates that share a session
 * key take turns (in the order they asked), so a handler that reads, awaits
 * and writes never loses another update's change; different keys never wait
 * for each other. One lock table per storage object, shared by every session
 * plugin and by the sessions API that use that storage.
 *
 * Each acquisition names its owner (the update, or a sessionStore call
 * outside updates). An owner that asks for a key it already holds, or whose
 * wait would close a cycle (update A holds "1" and waits for "2" while update
 * B holds "2" and waits for "1"), gets an error at once instead of hanging
 * forever. Who waits for what is recorded once for the whole process, not
 * per table, so a cycle through the sessions of two storages is seen too.
 *
 * No wait is unbounded either: a holder that keeps a key longer than the
 * waiter's bound (`lockTimeout`) while others wait loses it. The next in line
 * gets the key, and the holder is told (see {@linkcode LockTenant}) so that
 * its own save, if it ever comes, checks for saves made meanwhile. A handler
 * that never finishes, or that waits for a later update of the same user,
 * then delays that user once by the bound instead of forever.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** Releases a held key; calling it twice, or after the key was taken away, is harmless. */
export type Release = () => void;

/** Who holds a key on behalf of an owner: told when the key was taken away from it. */
export interface LockTenant {
  /** The key was handed to a waiter after the bound; calling the release is now a no-op. */
  evicted(): void;
}

/** An owner in line for a key. */
interface Turn {
  owner: object;
  tenant: LockTenant | undefined;
  /** Milliseconds this waiter lets a holder keep the key. */
  bound: number;
  grant: (release: Release) => void;
}

/** A held key: its holder, and the owners waiting for it (created on the first wait). */
interface Held {
  holder: object;
  tenant: LockTenant | undefined;
  /** The holder's release: a release that is not the current one does nothing. */
  release: Release | undefined;
  queue: Turn[] | undefined;
  /** Armed only while someone waits: takes the key from a holder that keeps it too long. */
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The held keys each owner is waiting for (several at once with
 * `Promise.all`), each with its key's name, across every lock table in the
 * process: deadlock detection follows "waits for a key held by", whichever
 * storage the key belongs to. Shared through `Symbol.for`, as the context
 * table is, so that two copies of this module see each other's waits (the
 * protocol: this map, and `Held`'s `holder`). Touched only when an owner has
 * to wait, never on a free key.
 */
const waiting: Map<object, Map<Held, string>> =
  ((globalThis as Record<symbol, Map<object, Map<Held, string>> | undefined>)[
    Symbol.for("@gramio/session@1:lock-waits")
  ] ??= new Map());

/** A table of per-key FIFO locks. */
export class KeyedLock {
  /** Per held key: who holds it and who waits for it, in order. */
  #keys = new Map<string, Held>();

  /**
   * Takes the lock for `key` on behalf of `owner`. Returns the release
   * function at once when the key is free (no promise, no extra tick on the
   * hot path), otherwise a promise of it that resolves when the previous
   * holders release. Throws a {@linkcode SessionError} when `owner` already
   * holds `key` or when waiting would deadlock. `tenant` is told if the key
   * is taken away from it later; `bound` is how many milliseconds this
   * caller, if it has to wait, lets the holder keep the key.
   */
  acquire(
    key: string,
    owner: object,
    tenant?: LockTenant,
    bound: number = Infinity,
  ): Release | Promise<Release> {
    const held = this.#keys.get(key);
    if (held === undefined) {
      const entry: Held = {
        holder: owner,
        tenant,
        release: undefined,
        queue: undefined,
      };
      this.#keys.set(key, entry);
      return this.#releaser(key, entry);
    }
    this.#assertCanWait(key, held, owner);
    const waits = waiting.get(owner);
    if (waits) waits.set(held, key);
    else waiting.set(owner, new Map([[held, key]]));
    return new Promise<Release>((grant) => {
      (held.queue ??= []).push({ owner, tenant, bound, grant });
      if (held.timer === undefined) this.#arm(key, held, bound);
    });
  }

  /** Who holds `key` now (the update's context, or a sessionStore call's token). */
  holderOf(key: string): object | undefined {
    return this.#keys.get(key)?.holder;
  }

  /** Hands the key to the next in line, or frees it. */
  #releaser(key: string, entry: Held): Release {
    const release = () => {
      if (entry.release !== release) return; // released already, or taken away
      if (entry.timer !== undefined) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
      }
      const next = entry.queue?.shift();
      if (next === undefined) {
        entry.release = undefined;
        this.#keys.delete(key);
        return;
      }
      this.#handOver(key, entry, next);
    };
    entry.release = release;
    return release;
  }

  #handOver(key: string, entry: Held, next: Turn): void {
    const waits = waiting.get(next.owner);
    waits?.delete(entry);
    if (waits?.size === 0) waiting.delete(next.owner);
    entry.holder = next.owner;
    entry.tenant = next.tenant;
    const release = this.#releaser(key, entry);
    const after = entry.queue?.[0];
    if (after !== undefined) this.#arm(key, entry, after.bound);
    next.grant(release);
  }

  /** Starts the bound of a wait: a timer only when someone actually waits. */
  #arm(key: string, entry: Held, bound: number): void {
    if (!(bound < Infinity)) return;
    const timer = setTimeout(() => this.#evict(key, entry, bound), bound);
    unrefTimer(timer);
    entry.timer = timer;
  }

  /** The holder kept the key past the bound while others waited: the next in line gets it. */
  #evict(key: string, entry: Held, bound: number): void {
    entry.timer = undefined;
    const next = entry.queue?.shift();
    if (next === undefined || entry.release === undefined) return;
    const { holder, tenant } = entry;
    console.warn(
      `[gramio:session] ${describeOwner(holder)} held session "${key}" for more than ${bound} ms ` +
        `(lockTimeout) while ${describeOwner(next.owner)} waited for it. ` +
        `The waiting update goes on; the holder, if it ever finishes, saves by compare-and-set. ` +
        "A handler that never finishes, or that waits for a later message of the same user (a prompt), " +
        "holds the session: register such plugins before session(), or raise lockTimeout for slow handlers.",
    );
    this.#handOver(key, entry, next);
    tenant?.evicted();
  }

  #assertCanWait(key: string, held: Held, owner: object): void {
    if (held.holder === owner || held.queue?.some((turn) => turn.owner === owner)) {
      throw new SessionError(
        `The session under the same storage key "${key}" is already held by this update (or by the ` +
          "sessionStore().update() call this code runs in), and waiting for it would never end. Two sessions of " +
          "one update resolve to that key, or sessionStore() was used on the session being changed: use " +
          "ctx.session (or the session update() passed in) there, or give the sessions different keys " +
          "(e.g. perUser and perChat, which prefix chat keys) or different storages.",
        key,
      );
    }
    const cycle = pathBackTo(owner, held, key, new Set());
    if (cycle) {
      throw new SessionError(
        `Deadlock avoided: this update (or sessionStore call) would wait for session "${key}" while holding ` +
          `one that the holder of "${key}" is waiting for (cycle: ${cycle.join(" -> ")}). ` +
          "It was stopped instead of hanging. " +
          "Take sessions of several keys in one fixed order (for example sorted by key), or change another " +
          "user's session outside the handler.",
        key,
      );
    }
  }
}

/**
 * The keys from `held` to one that `owner` holds, following "held by an owner
 * who waits for", in any lock table: waiting for `held` would then close a
 * cycle. A key in someone's waits is held (its queue is not empty).
 */
function pathBackTo(
  owner: object,
  held: Held,
  key: string,
  seen: Set<Held>,
): string[] | undefined {
  if (seen.has(held)) return undefined;
  seen.add(held);
  if (held.holder === owner) return [key];
  for (const [next, nextKey] of waiting.get(held.holder) ?? []) {
    const path = pathBackTo(owner, next, nextKey, seen);
    if (path) return [key, ...path];
  }
  return undefined;
}

/** Names an owner for logs: the update (id and type), or a sessionStore call. */
export function describeOwner(owner: object): string {
  const { updateId, updateType } = owner as { updateId?: unknown; updateType?: unknown };
  if (updateId !== undefined) {
    return `update ${String(updateId)} (${String(updateType ?? "update")})`;
  }
  return "a sessionStore() call";
}

/** A bound must not keep the process alive on its own (Deno and Node). */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
  } else (timer as { unref?(): void }).unref?.();
}

const locksByStorage = new WeakMap<object, KeyedLock>();

/** The lock table of a storage object. */
export function lockFor(storage: object): KeyedLock {
  let lock = locksByStorage.get(storage);
  if (!lock) locksByStorage.set(storage, lock = new KeyedLock());
  return lock;
}
