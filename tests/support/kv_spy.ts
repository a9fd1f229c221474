/**
 * A pass-through wrapper around a real KV database, for tests: it records the
 * options of every atomic `set`, the keys of every `check` and the outcome of
 * every `commit`, and can run a hook before `getMany` (to inject a concurrent
 * write between the reads of a head and of its chunks).
 *
 * @module
 */

import type { KvKeyPart, KvLike } from "../../src/storages/denokv/kv.ts";

/** One recorded atomic `set`. */
export interface RecordedSet {
  key: readonly KvKeyPart[];
  expireIn: number | undefined;
}

/** A {@linkcode KvLike} that forwards to `kv` and records what passed through. */
export interface KvSpy {
  kv: KvLike;
  sets: RecordedSet[];
  /** The keys of every atomic `check`, in order. */
  checks: (readonly KvKeyPart[])[];
  getManyCalls: number;
  /** Every atomic commit: written, refused by a check, or thrown (a value too large). */
  commits: ("ok" | "checked" | "threw")[];
}

/** Wraps `kv`; `beforeGetMany` runs (and is awaited) before each `getMany`. */
export function spyKv(
  kv: KvLike,
  hooks: { beforeGetMany?: (call: number) => void | Promise<void> } = {},
): KvSpy {
  const spy: KvSpy = {
    sets: [],
    checks: [],
    getManyCalls: 0,
    commits: [],
    kv: {
      get: (key, options) => kv.get(key, options),
      async getMany(keys, options) {
        const call = ++spy.getManyCalls;
        await hooks.beforeGetMany?.(call);
        return kv.getMany!(keys, options);
      },
      atomic() {
        const op = kv.atomic();
        const wrapped: ReturnType<KvLike["atomic"]> = {
          check(...checks) {
            for (const check of checks) spy.checks.push(check.key);
            op.check(...checks);
            return wrapped;
          },
          set(key, value, options) {
            spy.sets.push({ key, expireIn: options?.expireIn });
            op.set(key, value, options);
            return wrapped;
          },
          delete(key) {
            op.delete(key);
            return wrapped;
          },
          commit: () =>
            op.commit().then(
              (result) => {
                spy.commits.push(result.ok ? "ok" : "checked");
                return result;
              },
              (error) => {
                spy.commits.push("threw");
                throw error;
              },
            ),
        };
        return wrapped;
      },
      list: (selector, options) => kv.list(selector, options),
    },
  };
  return spy;
}
