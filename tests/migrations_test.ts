/**
 * src/migrations.ts on its own: {@linkcode createMigrator} validating a
 * migrations table, and `migrate` upgrading stored records, called directly.
 * Migrations through the plugin (saved versions, the envelope) are in
 * ttl_migrations_test.ts and stored_record_test.ts.
 */
import assert from "node:assert/strict";
import { type Migrations, SessionError } from "../mod.ts";
import { createMigrator } from "../src/migrations.ts";

/** Migrations that append their version to `data.trail`, so the runs can be read back. */
function trailing(...versions: number[]): Migrations {
  const migrations: Migrations = {};
  for (const version of versions) {
    migrations[version] = (old: { trail: number[] }) => ({ trail: [...old.trail, version] });
  }
  return migrations;
}

Deno.test("createMigrator: the version is the highest key, and steps run in numeric order", () => {
  // Object key order would be 2, 10, 10.1, 9.5 (integers first, then insertion order).
  const migrator = createMigrator(trailing(10.1, 2, 10, 9.5));
  assert.equal(migrator.version, 10.1);
  assert.deepEqual(migrator.migrate({ data: { trail: [] } }, "k"), {
    data: { trail: [2, 9.5, 10, 10.1] },
    migrated: true,
  });
});

Deno.test("migrate: a record without a version is at 0; only newer steps run", () => {
  const migrator = createMigrator(trailing(1, 2, 3));
  const run = (version: number | undefined) =>
    (migrator.migrate({ data: { trail: [] }, version }, "k").data as { trail: number[] }).trail;
  assert.deepEqual(run(undefined), [1, 2, 3]);
  assert.deepEqual(run(1), [2, 3]);
  assert.deepEqual(run(2.5), [3]);
});

Deno.test("migrate: a record at the newest version comes back as it was, not migrated", () => {
  const migrator = createMigrator(trailing(1, 2));
  const data = { trail: [7] };
  const result = migrator.migrate({ data, version: 2 }, "k");
  assert.equal(result.data, data);
  assert.equal(result.migrated, false);
});

Deno.test("migrate: each step gets the previous step's result; the record itself is not changed", () => {
  const seen: unknown[] = [];
  const migrator = createMigrator({
    1: (old: object) => (seen.push(old), { step: 1 }),
    2: (old: object) => (seen.push(old), { step: 2 }),
  });
  const record = { data: { step: 0 }, version: 0 };
  const result = migrator.migrate(record, "k");
  assert.deepEqual(seen, [{ step: 0 }, { step: 1 }]);
  assert.deepEqual(result, { data: { step: 2 }, migrated: true });
  assert.deepEqual(record, { data: { step: 0 }, version: 0 });
});

Deno.test("migrate: a record newer than the code is refused before any step runs", () => {
  let ran = false;
  const migrator = createMigrator({ 1: (old: object) => (ran = true, old) });
  assert.throws(
    () => migrator.migrate({ data: {}, version: 1.5 }, "user:1"),
    (error: unknown) =>
      error instanceof SessionError && error.sessionKey === "user:1" &&
      /"user:1" is stored at data version 1\.5, newer than the newest migration here \(1\)/.test(
        error.message,
      ),
  );
  assert.equal(ran, false);
});

Deno.test("migrate: a step that throws is a SessionError with the cause; later steps do not run", () => {
  const boom = new Error("boom");
  let later = false;
  const migrator = createMigrator({
    1: (old: object) => old,
    2: () => {
      throw boom;
    },
    3: (old: object) => (later = true, old),
  });
  assert.throws(
    () => migrator.migrate({ data: {}, version: 1 }, "42"),
    (error: unknown) =>
      error instanceof SessionError && error.sessionKey === "42" && error.cause === boom &&
      /"42": migration 2 failed: boom\. The stored session was left at version 1\./.test(
        error.message,
      ),
  );
  assert.equal(later, false);
  // Something thrown that is not an Error is named too.
  const odd = createMigrator({
    1: () => {
      throw "not an Error";
    },
  });
  assert.throws(() => odd.migrate({ data: {} }, "42"), /migration 1 failed: not an Error/);
});

Deno.test("createMigrator: refuses versions that are not positive numbers, steps that are not functions, and no steps", () => {
  for (const key of ["0", "-1", "NaN", "Infinity", "one", ""]) {
    const migrations = { [key]: (old: object) => old } as unknown as Migrations;
    assert.throws(
      () => createMigrator(migrations),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes(`"${key}" is not a version`),
      `key "${key}"`,
    );
  }
  assert.throws(
    () => createMigrator({ 1: "upgrade" } as unknown as Migrations),
    { name: "TypeError", message: /migration 1 is not a function/ },
  );
  assert.throws(() => createMigrator({}), { name: "TypeError", message: /at least one migration/ });
});
