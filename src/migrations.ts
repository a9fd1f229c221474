/**
 * Versioned session data. Stored sessions carry the version of their shape;
 * on read, every migration newer than that version runs in numeric order
 * (`2 < 10 < 10.1`), and the upgraded session is saved at the newest version.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import type { SessionRecord } from "./record.ts";

/**
 * One migration: the session as the previous version stored it, to the next
 * shape. Annotate the parameter with the old shape.
 */
export type Migration = {
  // Method syntax keeps annotated parameters (`(old: OldShape) => ...`) assignable.
  bivariant(data: object): object;
}["bivariant"];

/**
 * Migrations by version number. Data stored before `migrations` was used is
 * version 0; new sessions are saved at the highest version.
 *
 * @example
 * ```ts
 * import { type Migrations, session } from "@gramio/session";
 *
 * const migrations: Migrations = {
 *   1: (old: { apples: number }) => ({ fruit: { apples: old.apples } }),
 *   2: (old: { fruit: { apples: number } }) => ({ ...old, pears: 0 }),
 * };
 * session({ migrations, initial: () => ({ fruit: { apples: 0 }, pears: 0 }) });
 * ```
 */
export type Migrations = Record<number, Migration>;

/** Data after migrations, and whether any ran (then it is saved even if handlers change nothing). */
export interface MigrationResult {
  data: unknown;
  migrated: boolean;
}

/** Applies {@linkcode Migrations} to stored records. */
export interface Migrator {
  /** The newest version: what sessions are saved at. */
  readonly version: number;
  /** Upgrades a stored record's data; throws when it is newer than the code. */
  migrate(record: SessionRecord, sessionKey: string): MigrationResult;
}

/** Validates the migrations once, when `session()` is called. */
export function createMigrator(migrations: Migrations): Migrator {
  const steps = Object.entries(migrations).map(([key, run]) => {
    const version = Number(key);
    if (!Number.isFinite(version) || version <= 0 || key.trim() === "") {
      throw new TypeError(
        `session({ migrations }): "${key}" is not a version; use positive numbers as keys, e.g. { 1: (old) => ... }.`,
      );
    }
    if (typeof run !== "function") {
      throw new TypeError(
        `session({ migrations }): migration ${key} is not a function.`,
      );
    }
    return { version, run };
  }).sort((a, b) => a.version - b.version);
  if (steps.length === 0) {
    throw new TypeError(
      "session({ migrations }): give at least one migration, or leave the option out.",
    );
  }
  const latest = steps[steps.length - 1].version;

  return {
    version: latest,
    migrate(record, sessionKey) {
      const from = record.version ?? 0;
      if (from > latest) {
        throw new SessionError(
          `Session "${sessionKey}" is stored at data version ${from}, newer than the newest migration here (${latest}). ` +
            "It was left untouched: run the newer bot code, or add the missing migrations.",
          sessionKey,
        );
      }
      let data = record.data;
      let migrated = false;
      for (const step of steps) {
        if (step.version <= from) continue;
        try {
          data = step.run(data as object);
        } catch (cause) {
          throw new SessionError(
            `Session "${sessionKey}": migration ${step.version} failed: ${
              cause instanceof Error ? cause.message : String(cause)
            }. The stored session was left at version ${from}.`,
            sessionKey,
            { cause },
          );
        }
        migrated = true;
      }
      return { data, migrated };
    },
  };
}
