/**
 * What happens when another process saved a session while this update ran
 * (the `onConflict` policy): keep both sides when they changed different
 * top-level fields, never merge a `$clear()`, and retry with a growing random
 * pause while the session keeps being written.
 *
 * @module
 */

import { changedFields, type Snapshot, takeSnapshot } from "./change_detection/mod.ts";
import { setOwn } from "./value_kinds.ts";
import { SessionConflictError } from "./errors.ts";

/** What to do when another process saved the session while this update ran. */
export type ConflictPolicy = "merge" | "error" | "overwrite";

/** How many times a save is tried before it gives up on a session written constantly. */
export const MAX_SAVE_ATTEMPTS = 10;

/** What to write after a conflict, and the snapshot a further conflict is judged against. */
export interface Resolution {
  readonly data: object;
  /** The other process's version when merged into: only changes made after it count as theirs next time. */
  readonly base: Snapshot;
}

/** What one update changed, and what it started from. */
export interface OurSide {
  /** The session as this update read it (or last saved it). */
  readonly base: Snapshot;
  /** The session now. */
  readonly data: object;
  /** The session as read when `$clear()` was called in this update, if it was. */
  readonly clearedBase: Snapshot | undefined;
}

/**
 * What to write now that another process saved over the session this update
 * read. `theirs` decodes their session (`undefined`: they deleted it, or it
 * expired), only when the policy needs it; `initial` gives the session to
 * merge into when theirs is gone. Throws `SessionConflictError` when the
 * policy says so, when both changed the same top-level field, or when a
 * `$clear()` would erase their save.
 */
export async function resolveConflict(
  policy: ConflictPolicy,
  sessionKey: string,
  ours: OurSide,
  theirs: () => object | undefined,
  initial: () => Promise<object>,
): Promise<Resolution> {
  if (policy === "overwrite") return { data: ours.data, base: ours.base };
  if (policy === "error") throw new SessionConflictError(sessionKey, []);
  if (ours.clearedBase) {
    assertClearStands(sessionKey, ours.clearedBase, theirs());
    return { data: ours.data, base: ours.base };
  }
  return mergeFields(sessionKey, ours.base, ours.data, theirs() ?? await initial());
}

/**
 * Their session with the top-level fields this update changed since `base`
 * set (or deleted) as this update has them. Throws `SessionConflictError`
 * naming the fields both changed.
 */
export function mergeFields(
  sessionKey: string,
  base: Snapshot,
  ours: object,
  theirs: object,
): Resolution {
  const theirSnapshot = takeSnapshot(theirs);
  const mine = changedFields(base, takeSnapshot(ours));
  const their = changedFields(base, theirSnapshot);
  const both = [...mine].filter((field) => their.has(field));
  if (both.length) throw new SessionConflictError(sessionKey, both);
  const merged: Record<string, unknown> = { ...theirs };
  const source = ours as Record<string, unknown>;
  for (const field of mine) {
    if (Object.hasOwn(source, field)) setOwn(merged, field, source[field]);
    else delete merged[field];
  }
  return { data: merged, base: theirSnapshot };
}

/**
 * A clear is never merged: a field merged back from the other process's
 * save would bring back what the clear erased (a "/forget_me" that leaves
 * data behind), and erasing that save would lose it silently. So the clear
 * (and what was set after it) goes ahead only if the other process changed
 * nothing this update read (`read`), or deleted the session too; otherwise
 * the other save is kept and `SessionConflictError` names the fields it
 * changed.
 */
export function assertClearStands(
  sessionKey: string,
  read: Snapshot,
  theirs: object | undefined,
): void {
  if (theirs === undefined) return;
  const fields = changedFields(read, takeSnapshot(theirs));
  if (fields.size === 0) return;
  throw new SessionConflictError(
    sessionKey,
    [...fields],
    `$clear() was not applied: the other instance's save was kept, not erased or merged with the cleared session. ` +
      "Clear it again (e.g. ask the user to repeat the command) to delete it.",
  );
}

/**
 * Calls `attempt` up to `tries` times until it returns `true`, with a random
 * pause before each retry that grows with each one, so that two instances
 * stop colliding in lockstep. Then gives up with `SessionConflictError`.
 */
export async function retryWithBackoff(
  sessionKey: string,
  tries: number,
  attempt: (retry: number) => Promise<boolean>,
): Promise<void> {
  for (let retry = 0; retry < tries; retry++) {
    if (retry > 0) await backoff(retry);
    if (await attempt(retry)) return;
  }
  throw new SessionConflictError(
    sessionKey,
    [],
    `Gave up after ${MAX_SAVE_ATTEMPTS} attempts: the session is being written constantly.`,
  );
}

function backoff(retry: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * retry));
}
