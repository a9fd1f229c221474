import assert from "node:assert/strict";

const fixture = new URL("./fixtures/default_storage_bot.ts", import.meta.url).pathname;

const config = new URL("../deno.json", import.meta.url).pathname;

interface Run {
  code: number;
  count?: number;
  stderr: string;
}

/**
 * Runs the fixture bot in a new process; `location` selects its default KV
 * database. Without KV, the process gets no deno.json (whose "unstable"
 * turns KV on) and reads the import map from it directly.
 */
async function run(location: string, options: { kv?: boolean; args?: string[] } = {}) {
  const flags = options.kv ?? true ? ["--unstable-kv"] : ["--no-config", `--import-map=${config}`];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, `--location=${location}`, fixture, ...options.args ?? []],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  return { code: output.code, stderr, ...(output.code === 0 ? JSON.parse(stdout) : {}) } as Run;
}

const location = (name: string) => `https://${name}-${crypto.randomUUID()}.test/`;

Deno.test("without a storage option, sessions are in Deno KV and survive a restart", async () => {
  const where = location("default-storage");
  const first = await run(where);
  const second = await run(where);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.count, 1);
  assert.equal(second.count, 2, "the second process read the first one's session");
  assert.doesNotMatch(first.stderr, /kept in memory/, "no in-memory warning where KV exists");
  // Another default database: a fresh session.
  assert.equal((await run(location("default-storage"))).count, 1);
});

Deno.test("on Deno without KV enabled, session() with no storage fails and says what to add", async () => {
  const { code, count, stderr } = await run(location("no-kv"), { kv: false });
  assert.notEqual(code, 0, "no silent fallback to memory");
  assert.equal(count, undefined);
  assert.match(stderr, /SessionError/);
  assert.match(stderr, /Add "unstable": \["kv"\] to your deno\.json/);
  assert.match(stderr, /--unstable-kv/);
  assert.match(stderr, /storage: inMemoryStorage\(\)/);
});

Deno.test("on Deno without KV enabled, storage: inMemoryStorage() is memory on purpose: no error, no warning", async () => {
  const { code, count, stderr } = await run(location("no-kv-memory"), {
    kv: false,
    args: ["memory"],
  });
  assert.equal(code, 0, stderr);
  assert.equal(count, 1);
  assert.equal(stderr, "");
});
