import assert from "node:assert/strict";

const fixture = new URL("./fixtures/default_storage_bot.ts", import.meta.url).pathname;

const config = new URL("../deno.json", import.meta.url).pathname;

/**
 * Runs the fixture bot in a new process; `location` selects its default KV
 * database. Without KV, the process gets no deno.json (whose "unstable"
 * turns KV on) and reads the import map from it directly.
 */
async function run(location: string, kv = true): Promise<{ count: number; stderr: string }> {
  const flags = kv ? ["--unstable-kv"] : ["--no-config", `--import-map=${config}`];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, `--location=${location}`, fixture],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return { ...JSON.parse(new TextDecoder().decode(output.stdout)), stderr };
}

Deno.test("without a storage option, sessions are in Deno KV and survive a restart", async () => {
  const location = `https://default-storage-${crypto.randomUUID()}.test/`;
  const first = await run(location);
  const second = await run(location);
  assert.equal(first.count, 1);
  assert.equal(second.count, 2, "the second process read the first one's session");
  assert.doesNotMatch(first.stderr, /kept in memory/, "no in-memory warning where KV exists");
  // Another default database: a fresh session.
  assert.equal((await run(`https://default-storage-${crypto.randomUUID()}.test/`)).count, 1);
});

Deno.test("where Deno KV does not exist, sessions are in memory, with one warning", async () => {
  const { count, stderr } = await run(`https://no-kv-${crypto.randomUUID()}.test/`, false);
  assert.equal(count, 1);
  assert.equal(stderr.match(/kept in memory and lost on restart/g)?.length, 1);
});
