/**
 * `deno task bench` end to end at a tiny size: every variant runs, the table
 * and the target lines are printed, and the storage calls per update (which do
 * not depend on timing) are the ones the targets ask for. Times are not
 * checked here: the benchmark itself reports them against its targets.
 */
import assert from "node:assert/strict";

Deno.test("bench: a tiny run prints every variant, the ratios, the targets and exact storage calls", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/main.ts"],
    cwd: new URL("../", import.meta.url),
    env: {
      BENCH_ROUNDS: "2",
      BENCH_MEM_UPDATES: "50",
      BENCH_KV_UPDATES: "10",
      BENCH_REPLICAS: "1",
      BENCH_KV_BATCH: "10",
      BENCH_KV_BATCH_ROUNDS: "2",
      BENCH_HOT_PATH: "0",
      BENCH_USERS: "100",
      BENCH_WARMUP: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr) + text);

  /** reads/update and writes/update of the table row that starts with `label`. */
  const calls = (label: string) => {
    const row = text.split("\n").find((line) => line.startsWith(`| ${label}`));
    assert.ok(row, `no row for ${label}:\n${text}`);
    const cells = row.split("|").map((cell) => cell.trim()).filter(Boolean);
    return cells.slice(-2);
  };
  assert.deepEqual(calls("GramIO + session, in-memory, eager, increments"), ["1.00", "1.00"]);
  assert.deepEqual(calls("GramIO + session, in-memory, lazy, untouched"), ["0.00", "0.00"]);
  assert.deepEqual(calls("GramIO + session, in-memory, eager, read-only"), ["1.00", "0.00"]);
  assert.deepEqual(calls("GramIO + session, Deno KV file, eager, increments"), ["1.00", "1.00"]);
  for (
    const label of ["grammY 1.46 + session()", "Telegraf 4.16 + session()", "raw kv.get + kv.set"]
  ) {
    assert.deepEqual(calls(label), ["1.00", "1.00"]);
  }
  assert.match(text, /Our in-memory overhead \/ grammY's: [\d.-]+x; \/ Telegraf's: [\d.-]+x/);
  assert.match(text, /KV sessions, one update at a time: .*GramIO with the same get\+set/);
  assert.match(text, /KV sessions, 10 updates in flight/);
  for (
    const target of [
      /(PASS|FAIL) {2}in-memory eager overhead/,
      /PASS {2}lazy untouched: 0\.00 storage calls per update/,
      /(PASS|FAIL) {2}lazy untouched overhead/,
      /PASS {2}eager read-only: 1\.00 reads, 0\.00 writes per update/,
      /(PASS|FAIL) {2}KV sessions, 10 updates in flight/,
      /(PASS|FAIL) {2}KV sessions, one update at a time/,
      /(PASS|FAIL) {2}50 KB change detection/,
      /PASS {2}sanity: every update handled once, no errors, every increment stored/,
    ]
  ) assert.match(text, target);
});
