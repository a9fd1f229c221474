/**
 * Several processes on one local KV file (two bot instances, a cron job)
 * make SQLite answer "database is locked" while another one writes. That is
 * transient: every call is retried with a short growing backoff instead of
 * failing the update.
 *
 * @module
 */

import type { KvKeyPart, KvLike } from "./kv.ts";

/** Attempts of one KV call while SQLite reports the file busy. */
const BUSY_ATTEMPTS = 20;

/**
 * `kv` with its calls retried while the file is busy. An atomic operation is
 * recorded and replayed on a new one for each attempt.
 */
export function retryingWhenBusy(kv: KvLike): KvLike {
  const retry = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1;; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= BUSY_ATTEMPTS || !isBusy(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 * attempt, 25)));
      }
    }
  };
  const wrapped: KvLike = {
    get: (key, options) => retry(() => kv.get(key, options)),
    atomic() {
      const steps: Array<(op: ReturnType<KvLike["atomic"]>) => void> = [];
      const recorder = {
        check: (
          ...checks: {
            key: readonly KvKeyPart[];
            versionstamp: string | null;
          }[]
        ) => {
          steps.push((op) => op.check(...checks));
          return recorder;
        },
        set: (
          key: readonly KvKeyPart[],
          value: unknown,
          options?: { expireIn?: number },
        ) => {
          steps.push((op) => op.set(key, value, options));
          return recorder;
        },
        delete: (key: readonly KvKeyPart[]) => {
          steps.push((op) => op.delete(key));
          return recorder;
        },
        commit: () =>
          retry(() => {
            const op = kv.atomic();
            for (const step of steps) step(op);
            return op.commit();
          }),
      };
      return recorder;
    },
    list: (selector, options) => kv.list(selector, options),
    close: kv.close ? () => kv.close!() : undefined,
  };
  if (kv.getMany) {
    const getMany = kv.getMany.bind(kv);
    wrapped.getMany = (keys, options) => retry(() => getMany(keys, options));
  }
  return wrapped;
}

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(
    String((error as Error)?.message ?? error),
  );
}
