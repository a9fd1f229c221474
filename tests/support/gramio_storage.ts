/**
 * `@gramio/storage`'s storage contract (storages repo, `packages/core`, 2.x),
 * written out because the package cannot be installed here, and the type
 * `@gramio/scenes` takes. Used by the type test (`storage_types_check.ts`) and
 * by the scenes-like test plugin, which can then only use what these promise.
 *
 * @module
 */

/** A value or a Promise of it. */
export type GramioMaybePromise<T> = Promise<T> | T;

/** `Storage` from `@gramio/storage`, generic over a data map. */
// deno-lint-ignore no-explicit-any
export interface GramioStorage<Data extends Record<string, any> = Record<string, any>> {
  get<K extends keyof Data>(key: K): GramioMaybePromise<Data[K] | undefined>;
  set<K extends keyof Data>(key: K, value: Data[K]): GramioMaybePromise<void>;
  has<K extends keyof Data>(key: K): GramioMaybePromise<boolean>;
  delete<K extends keyof Data>(key: K): GramioMaybePromise<boolean>;
}

/** What `@gramio/scenes` 0.7 stores per user (`ScenesStorageData`). */
export interface ScenesStorageData {
  name: string;
  params: unknown;
  state: unknown;
  stepId: string | number;
  previousStepId: string | number;
  firstTime: boolean;
}

/** `@gramio/scenes`' `ScenesStorage`: records under `@gramio/scenes:<userId>`. */
export type ScenesStorage = GramioStorage<
  Record<`@gramio/scenes:${string | number}`, ScenesStorageData>
>;
