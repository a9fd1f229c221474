/**
 * `deno task bench`: the cost of sessions per update, in one run, on the same
 * synthetic updates (1,000 users, private text messages, no network).
 *
 * Each variant lives in its own Web Worker (its own V8 heap, so the garbage
 * it makes is collected in its own time, as in a real bot process). The main
 * thread runs them one at a time, in a new shuffled order every round, so
 * that the machine's noise hits all of them alike. Costs are means over all
 * rounds (they include garbage collection, which the median of short rounds
 * would hide); overheads are means of per-round differences against the
 * same framework without sessions. Storage calls are counted in a separate,
 * untimed pass.
 *
 * KV rows: our plugin on a Deno KV file, GramIO with `kv.get` + `kv.set`
 * written in the handler (what a bot without the plugin does), and a bare
 * `kv.get` + `kv.set` loop (the physical floor), same key shape and value.
 * Targets are printed as PASS/FAIL lines; "noise" for the lazy target is the
 * p25-p75 spread of the repeated GramIO floor rounds.
 *
 * In-memory variants run in BENCH_REPLICAS workers each (default 4), and a
 * round's sample is their mean: each worker's JIT and heap settle a little
 * differently and stay so for the whole run, which one worker per variant
 * would mistake for a difference between variants.
 *
 * KV rate with a batch in flight: GramIO's update queue runs every update of
 * a getUpdates batch at once, so the KV variants are also timed on batches of
 * BENCH_KV_BATCH (default 100) concurrent updates of different users, in
 * BENCH_KV_BATCH_ROUNDS (default 40) shuffled rounds.
 *
 * Environment knobs: BENCH_ROUNDS (default 100), BENCH_MEM_UPDATES (updates
 * per in-memory variant per round, default 1000), BENCH_KV_UPDATES (per KV
 * variant per round, default 250), BENCH_REPLICAS, BENCH_KV_BATCH,
 * BENCH_KV_BATCH_ROUNDS, BENCH_HOT_PATH=0 to skip the breakdown, BENCH_USERS
 * (default 1000) and BENCH_WARMUP (warmup passes over every user, default 3).
 *
 * @module
 */

import "./quiet.ts";
import { serialize } from "node:v8";
import { hasChanged, takeSnapshot } from "../src/change_detection/mod.ts";
import { bigSession } from "./big_session.ts";
import { type Calls, calls } from "./counting.ts";
import { hotPathBreakdown } from "./hot_path.ts";
import { fixed, iqr, markdownTable, median, quantile } from "./stats.ts";
import { batch, USERS } from "./updates.ts";
import { createVariant, VARIANT_IDS, type VariantId } from "./variants.ts";
import type { Reply, Request } from "./worker.ts";

const ROUNDS = envInt("BENCH_ROUNDS", 100);
const MEM_UPDATES = envInt("BENCH_MEM_UPDATES", 1_000);
const KV_UPDATES = envInt("BENCH_KV_UPDATES", 250);
const REPLICAS = envInt("BENCH_REPLICAS", 4);
const KV_BATCH = Math.min(envInt("BENCH_KV_BATCH", 100), USERS);
const KV_BATCH_ROUNDS = envInt("BENCH_KV_BATCH_ROUNDS", 40);
const WARMUP_PASSES = envInt("BENCH_WARMUP", 3);
const KV_IDS = ["kv-eager", "kv-raw-gramio", "kv-raw"] as const;
const isKv = (id: VariantId) => id.startsWith("kv-");
const FLOORS: readonly VariantId[] = ["gramio", "gramio-2", "grammy", "telegraf"];

function envInt(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name));
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const started = performance.now();
const dir = await Deno.makeTempDir({ prefix: "gramio-session-bench-" });
const kvPath = `${dir}/bench.kv`;

/** A variant's worker, asked one thing at a time. */
class Remote {
  readonly #worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  #pending: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;

  constructor(readonly id: VariantId) {
    this.#worker.onmessage = (event: MessageEvent<Reply>) => this.#settle(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#pending?.reject(new Error(`worker ${id}: ${event.message}`));
      this.#pending = undefined;
    };
  }

  ask<T extends Reply["type"]>(request: Request, expect: T): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.#pending = {
        resolve: (reply) => {
          if (reply.type === expect) resolve(reply as Extract<Reply, { type: T }>);
          else {reject(
              new Error(`worker ${this.id}: ${reply.type === "failed" ? reply.error : reply.type}`),
            );}
        },
        reject,
      };
      this.#worker.postMessage(request);
    });
  }

  #settle(reply: Reply): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(reply);
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

interface Timed {
  /** The variant's workers (replicas). */
  remotes: Remote[];
  label: string;
  /** Updates per round. */
  size: number;
  /** µs per update, one entry per round (the mean of the replicas). */
  samples: number[];
  /** KV variants: µs per update with a batch in flight, one entry per batch round. */
  batchSamples: number[];
}

async function main(): Promise<void> {
  // ------------------------------------------------- workers and warmup --
  log(`starting ${VARIANT_IDS.length} workers and warming them up...`);
  const timed = new Map<VariantId, Timed>();
  try {
    for (const id of VARIANT_IDS) {
      const remotes: Remote[] = [];
      let label = "";
      for (let replica = 0; replica < (isKv(id) ? 1 : REPLICAS); replica++) {
        const remote = new Remote(id);
        remotes.push(remote);
        ({ label } = await remote.ask(
          {
            type: "init",
            id,
            kvPath: isKv(id) ? kvPath : undefined,
            warmupPasses: isKv(id) ? 1 : WARMUP_PASSES,
          },
          "ready",
        ));
      }
      timed.set(id, {
        remotes,
        label,
        size: isKv(id) ? KV_UPDATES : MEM_UPDATES,
        samples: [],
        batchSamples: [],
      });
    }

    // ------------------------------------------------------ timed rounds --
    log(
      `${ROUNDS} rounds: ${MEM_UPDATES} updates per in-memory variant (${REPLICAS} workers each), ` +
        `${KV_UPDATES} per KV variant...`,
    );
    const random = seeded(1);
    const timedStart = performance.now();
    const runs = [...timed.values()].flatMap((entry) =>
      entry.remotes.map((remote) => ({ entry, remote }))
    );
    for (let round = 0; round < ROUNDS; round++) {
      const perUpdate = new Map<Timed, number[]>();
      for (const { entry, remote } of shuffle(runs, random)) {
        const start = entry.size >= USERS ? 0 : (round * entry.size) % USERS;
        const { microseconds } = await remote.ask(
          { type: "run", start, count: entry.size },
          "ran",
        );
        const values = perUpdate.get(entry) ?? [];
        values.push(microseconds / entry.size);
        perUpdate.set(entry, values);
      }
      for (const [entry, values] of perUpdate) entry.samples.push(mean(values));
    }
    log(
      `KV with a batch in flight: ${KV_BATCH_ROUNDS} rounds of ${KV_BATCH} concurrent updates...`,
    );
    const kvEntries = KV_IDS.map((id) => timed.get(id)!);
    for (let round = 0; round < KV_BATCH_ROUNDS; round++) {
      for (const entry of shuffle([...kvEntries], random)) {
        const { microseconds } = await entry.remotes[0].ask(
          { type: "run", start: (round * KV_BATCH) % USERS, count: KV_BATCH, concurrent: true },
          "ran",
        );
        entry.batchSamples.push(microseconds / KV_BATCH);
      }
    }
    const timedSeconds = (performance.now() - timedStart) / 1000;

    // ---------------------------------------------------- sanity checks --
    const problems: string[] = [];
    for (const [id, entry] of timed) {
      for (const remote of entry.remotes) {
        await checkWorker(id, remote, problems);
      }
    }
    for (const entry of timed.values()) for (const remote of entry.remotes) remote.terminate();

    await report(timed, problems, timedSeconds);
  } finally {
    for (const entry of timed.values()) for (const remote of entry.remotes) remote.terminate();
  }
}

/** Every update handled once, without errors, and every increment stored. */
async function checkWorker(id: VariantId, remote: Remote, problems: string[]): Promise<void> {
  const done = await remote.ask({ type: "finish" }, "done");
  if (done.errors.length) {
    problems.push(`${id}: ${done.errors.length} errors, first: ${done.errors[0]}`);
  }
  if (done.handled !== done.sent) {
    problems.push(`${id}: handled ${done.handled} of ${done.sent} updates`);
  }
  // Every increment reached the store.
  if (done.storedTotal !== null && done.storedTotal !== done.sent) {
    problems.push(`${id}: stored counters sum to ${done.storedTotal}, expected ${done.sent}`);
  }
}

async function report(
  timed: Map<VariantId, Timed>,
  problems: string[],
  timedSeconds: number,
): Promise<void> {
  log("counting storage calls...");
  const counts = await countingPass();
  let breakdown = "";
  if (Deno.env.get("BENCH_HOT_PATH") !== "0") {
    log("hot path breakdown...");
    breakdown = await hotPathBreakdown();
  }
  log("50 KB session: change detection vs one KV write...");
  const big = await bigSessionBench();

  const samples = (id: VariantId) => timed.get(id)!.samples;
  const floorA = samples("gramio");
  const floorB = samples("gramio-2");
  const gramioBase = floorA.map((value, i) => (value + floorB[i]) / 2);
  const floorAll = [...floorA, ...floorB];
  const noise = iqr(floorAll);
  const overhead = (id: VariantId, base: readonly number[]) => meanDifference(samples(id), base);

  const ours = overhead("mem-eager", gramioBase);
  const lazy = overhead("mem-lazy", gramioBase);
  const readOnly = overhead("mem-read", gramioBase);
  const grammy = overhead("grammy-session", samples("grammy"));
  const telegraf = overhead("telegraf-session", samples("telegraf"));
  const kvRate = mean(samples("kv-raw")) / mean(samples("kv-eager"));
  const kvRateInGramio = mean(samples("kv-raw-gramio")) / mean(samples("kv-eager"));
  const kvCeiling = mean(samples("kv-raw")) / mean(samples("kv-raw-gramio"));
  const batch = (id: VariantId) => timed.get(id)!.batchSamples;
  const kvBatchRate = mean(batch("kv-raw")) / mean(batch("kv-eager"));
  const kvBatchRateInGramio = mean(batch("kv-raw-gramio")) / mean(batch("kv-eager"));
  const kvBatchCeiling = mean(batch("kv-raw")) / mean(batch("kv-raw-gramio"));
  const repeat = meanDifference(floorB, floorA);

  const overheadText: Record<VariantId, string> = {
    "gramio": "(floor)",
    "gramio-2": `(floor, repeat: ${signed(repeat)})`,
    "mem-eager": signed(ours),
    "mem-lazy": signed(lazy),
    "mem-read": signed(readOnly),
    "grammy": "(floor)",
    "grammy-session": signed(grammy),
    "telegraf": "(floor)",
    "telegraf-session": signed(telegraf),
    "kv-eager": `${signed(overhead("kv-eager", samples("kv-raw-gramio")), 1)} vs GramIO + get/set`,
    "kv-raw-gramio": `${signed(overhead("kv-raw-gramio", samples("kv-raw")), 1)} vs raw KV`,
    "kv-raw": "(KV floor)",
  };
  const rows = VARIANT_IDS.map((id) => {
    const { label } = timed.get(id)!;
    const seen = counts.get(id);
    return [
      label,
      fixed(mean(samples(id)), 2),
      `${fixed(quantile(samples(id), 0.25), 1)}–${fixed(quantile(samples(id), 0.75), 1)}`,
      overheadText[id],
      seen ? fixed(seen.reads, 2) : "0",
      seen ? fixed(seen.writes, 2) : "0",
    ];
  });

  console.log("");
  console.log(`## Session benchmark (${await machine()})`);
  console.log("");
  console.log(
    `${ROUNDS} rounds in a new shuffled order each; per round ${MEM_UPDATES} updates per in-memory variant, ` +
      `${KV_UPDATES} per KV variant (over ${USERS} users), each awaited before the next; every variant in its own ` +
      "worker (own heap). µs/update: mean over all rounds, garbage collection included. Overhead: mean of " +
      "per-round differences to the same framework without session (GramIO: the mean of its two floor runs), " +
      "± 95% confidence.",
  );
  console.log("");
  console.log(markdownTable(
    [
      "Variant",
      "µs/update",
      "rounds p25–p75",
      "Session overhead µs",
      "Reads/update",
      "Writes/update",
    ],
    rows,
  ));
  console.log("");
  console.log(
    `- Noise: p75 - p25 of the ${floorAll.length} GramIO floor rounds = ${fixed(noise, 2)} µs; ` +
      `floor vs its repeat: ${signed(repeat)} µs.`,
  );
  console.log(
    `- Our in-memory overhead / grammY's: ${fixed(ours.mean / grammy.mean, 2)}x; ` +
      `/ Telegraf's: ${fixed(ours.mean / telegraf.mean, 2)}x.`,
  );
  const rates = (
    of: (id: VariantId) => number[],
    rate: number,
    inGramio: number,
    ceiling: number,
  ) =>
    `${fixed(1e6 / mean(of("kv-eager")), 0)} updates/s vs raw get+set ${
      fixed(1e6 / mean(of("kv-raw")), 0)
    } pairs/s = **${fixed(100 * rate, 1)}%**; ` +
    `GramIO with the same get+set written in the handler (the ceiling for any GramIO plugin) is at ${
      fixed(100 * ceiling, 1)
    }% of raw, and the plugin at ${fixed(100 * inGramio, 1)}% of that.`;
  console.log(
    `- KV sessions, one update at a time: ${rates(samples, kvRate, kvRateInGramio, kvCeiling)}`,
  );
  console.log(
    `- KV sessions, ${KV_BATCH} updates in flight (as GramIO runs a getUpdates batch): ${
      rates(batch, kvBatchRate, kvBatchRateInGramio, kvBatchCeiling)
    }`,
  );
  console.log(
    `- 50 KB session (${big.v8Bytes} bytes V8-serialized, ${big.historyEntries} history entries): ` +
      `takeSnapshot ${fixed(big.snapshotUs, 0)} µs + hasChanged ${
        fixed(big.hasChangedUs, 0)
      } µs = ` +
      `${fixed(big.detectUs, 0)} µs; one kv.set of it: ${fixed(big.kvSetUs, 0)} µs (medians).`,
  );
  if (breakdown) {
    console.log("");
    console.log("### Hot path pieces (bench/hot_path.ts)");
    console.log("");
    console.log(breakdown);
  }
  console.log("");

  const target = (pass: boolean, text: string) => console.log(`${pass ? "PASS" : "FAIL"}  ${text}`);
  target(
    ours.mean <= grammy.mean,
    `in-memory eager overhead ${fixed(ours.mean, 2)} µs <= grammY session overhead ${
      fixed(grammy.mean, 2)
    } µs`,
  );
  const lazyCounts = counts.get("mem-lazy")!;
  const lazyCalls = lazyCounts.reads + lazyCounts.writes + lazyCounts.deletes;
  target(
    lazyCalls === 0,
    `lazy untouched: ${fixed(lazyCalls, 2)} storage calls per update (want 0)`,
  );
  target(
    lazy.mean <= noise,
    `lazy untouched overhead ${signed(lazy)} µs within noise ${fixed(noise, 2)} µs`,
  );
  const readCounts = counts.get("mem-read")!;
  target(
    readCounts.reads === 1 && readCounts.writes === 0,
    `eager read-only: ${fixed(readCounts.reads, 2)} reads, ${
      fixed(readCounts.writes, 2)
    } writes per update (want 1, 0)`,
  );
  target(
    kvBatchRate >= 0.9,
    `KV sessions, ${KV_BATCH} updates in flight: ${
      fixed(100 * kvBatchRate, 1)
    }% of the raw KV get+set rate (want >= 90%; GramIO + hand-written get/set: ${
      fixed(100 * kvBatchCeiling, 1)
    }%)`,
  );
  target(
    kvRate >= 0.9,
    `KV sessions, one update at a time: ${
      fixed(100 * kvRate, 1)
    }% of the raw KV get+set rate (want >= 90%; GramIO + hand-written get/set: ${
      fixed(100 * kvCeiling, 1)
    }%)`,
  );
  target(
    big.detectUs < big.kvSetUs,
    `50 KB change detection ${fixed(big.detectUs, 0)} µs < one KV write of it ${
      fixed(big.kvSetUs, 0)
    } µs`,
  );
  if (problems.length) {
    for (const problem of problems) console.log(`FAIL  sanity: ${problem}`);
    Deno.exitCode = 1;
  } else {
    console.log("PASS  sanity: every update handled once, no errors, every increment stored");
  }
  console.log("");
  console.log(
    `(timed rounds ${fixed(timedSeconds, 1)} s, whole run ${
      fixed((performance.now() - started) / 1000, 1)
    } s)`,
  );
}

/** Reads and writes per update of each mode, with counting wrappers, after a warmup pass. */
async function countingPass(): Promise<Map<VariantId, Calls>> {
  const kv = await Deno.openKv(`${dir}/counting.kv`);
  const result = new Map<VariantId, Calls>();
  try {
    for (const id of VARIANT_IDS) {
      if (FLOORS.includes(id)) continue; // no storage at all
      const seen = calls();
      const variant = await createVariant(id, kv, seen);
      const users = isKv(id) ? Math.min(100, USERS) : USERS;
      const updates = batch(users);
      for (const update of updates) await variant.handle(update); // creates the sessions
      Object.assign(seen, calls());
      for (const update of updates) await variant.handle(update);
      if (variant.errors.length) throw variant.errors[0];
      result.set(id, {
        reads: seen.reads / users,
        writes: seen.writes / users,
        deletes: seen.deletes / users,
      });
    }
  } finally {
    kv.close();
  }
  return result;
}

interface BigSessionResult {
  v8Bytes: number;
  historyEntries: number;
  snapshotUs: number;
  hasChangedUs: number;
  detectUs: number;
  kvSetUs: number;
}

/** takeSnapshot + hasChanged of an unchanged 50 KB session (the full comparison) against kv.set of it, interleaved. */
async function bigSessionBench(): Promise<BigSessionResult> {
  const kv = await Deno.openKv(kvPath);
  const value = bigSession();
  const snapshots: number[] = [];
  const checks: number[] = [];
  const detects: number[] = [];
  const sets: number[] = [];
  try {
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const base = takeSnapshot(value);
        const t1 = performance.now();
        if (hasChanged(base, value)) throw new Error("an unchanged session was seen as changed");
        const t2 = performance.now();
        if (round > 0) { // round 0 warms the JIT up
          snapshots.push((t1 - t0) * 1000);
          checks.push((t2 - t1) * 1000);
          detects.push((t2 - t0) * 1000);
        }
      }
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        await kv.set(["bench-50k", i], value);
        if (round > 0) sets.push((performance.now() - t0) * 1000);
      }
    }
  } finally {
    kv.close();
  }
  return {
    v8Bytes: serialize(value).byteLength,
    historyEntries: (value.history as unknown[]).length,
    snapshotUs: median(snapshots),
    hasChangedUs: median(checks),
    detectUs: median(detects),
    kvSetUs: median(sets),
  };
}

interface Estimate {
  mean: number;
  /** Half-width of the 95% confidence interval. */
  ci: number;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Mean of paired per-round differences, with a 95% confidence half-width. */
function meanDifference(values: readonly number[], base: readonly number[]): Estimate {
  const diffs = values.map((value, i) => value - base[i]);
  const average = mean(diffs);
  const variance = diffs.reduce((sum, diff) => sum + (diff - average) ** 2, 0) / (diffs.length - 1);
  return { mean: average, ci: 1.96 * Math.sqrt(variance / diffs.length) };
}

function signed(estimate: Estimate, digits = 2): string {
  return `${fixed(estimate.mean, digits)} ± ${fixed(estimate.ci, digits)}`;
}

/** A seeded generator, so every run uses the same round orders. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Shuffles in place (Fisher-Yates) and returns `items`. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

async function machine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    const text = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return `${navigator.hardwareConcurrency} cores, ${cpu}, Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
}

function log(message: string): void {
  console.error(`[bench ${fixed((performance.now() - started) / 1000, 1)}s] ${message}`);
}

try {
  await main();
} finally {
  await Deno.remove(dir, { recursive: true });
}
