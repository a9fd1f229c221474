/**
 * Which update the running code belongs to. The plugin runs each update's
 * handlers inside this scope, so that a `sessionStore()` call made from a
 * handler locks on behalf of that update: the lock table can then refuse a
 * wait that would deadlock instead of hanging. Outside updates, a
 * `sessionStore().update()` call runs its callback in a scope of its own, so
 * that store calls nested in it lock on behalf of that call.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

const scope = new AsyncLocalStorage<object>();

/**
 * Whether any sessionStore() was created. Entering the scope costs ~1 us per
 * update (AsyncLocalStorage), and only sessionStore() reads it.
 */
let needed = false;

/** Called by sessionStore(): from now on, updates run in their scope. */
export function needUpdateScope(): void {
  needed = true;
}

/** Runs `fn` as part of the update whose context is `ctx`. */
export function runInUpdate<T>(ctx: object, fn: () => T): T {
  return needed ? scope.run(ctx, fn) : fn();
}

/** Runs `fn` on behalf of `owner` (a sessionStore().update() call outside updates). */
export function runAsOwner<T>(owner: object, fn: () => T): T {
  return scope.run(owner, fn);
}

/** The context of the update (or the owner) the calling code runs in, if any. */
export function currentUpdate(): object | undefined {
  return scope.getStore();
}
