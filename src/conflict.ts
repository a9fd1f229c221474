/**
 * What happens when another process saved a session while this update ran:
 * the `onConflict` policy.
 *
 * @module
 */

/** What to do when another process saved the session while this update ran. */
export type ConflictPolicy = "merge" | "error" | "overwrite";
