/**
 * `deno task bench`: every target of issue 16 measured side by side in one
 * run and printed as PASS/FAIL with its ratio, then the tables behind them.
 *
 * - In memory, eager, one small nested field changed per update: session
 *   overhead over each framework's own floor (GramIO and grammY with no
 *   session, both through their `handleUpdate`), by session size (100 B to
 *   200 KB, realistic cart/form/history shapes, see `shapes.ts`) and by the
 *   number of stored sessions (1k to 1M users).
 * - On a Deno KV file: total per update, our plugin against grammY's
 *   `session()` on a Deno KV adapter as grammY users write it
 *   (`grammy_kv.ts`); changing and read-only.
 * - Redis: our plugin against GramIO with GET/SET written by hand in a
 *   middleware, one update at a time and 100 in flight (SKIP when Redis is
 *   unreachable).
 * - KV sessions over 64 KiB: serializations per save, 200 KB save time
 *   (`large_kv.ts`).
 * - Heap bytes per stored in-memory session (`memory.ts`, a subprocess with
 *   `--expose-gc`).
 * - Storage calls per update, counted in an untimed pass.
 *
 * Robust on a loaded machine: every variant runs in its own worker (own
 * heap); a variant and its base (floor, or the other framework) run back to
 * back in paired rounds (`paired.ts`), verdicts come from medians of
 * per-round differences or ratios, with a 90% bootstrap interval (a verdict
 * whose interval crosses the target is marked "not settled"), and process
 * CPU time is printed next to wall time.
 *
 * Environment: BENCH_TINY=1 runs everything at a tiny size (the smoke test).
 * BENCH_ONLY (comma-separated sections to run: memory, users, kv, redis,
 * large, heap, calls; default all), BENCH_ROUNDS (in-memory paired rounds,
 * default 30), BENCH_IO_ROUNDS (KV and Redis, default 60), BENCH_MAX_USERS (top of the user curve, default
 * 1,000,000), BENCH_MEMORY_SESSIONS (default 50,000), REDIS_URL (default
 * redis://127.0.0.1:6379).
 *
 * @module
 */

import "./quiet.ts";
import { heapPerSession } from "./memory.ts";
import { type LargeKvResult, largeKvSaves, type SavePhase } from "./large_kv.ts";
import { differences, medianOf, type Pair, type PairResult, ratios, runPairs } from "./paired.ts";
import { sizeLabel } from "./shapes.ts";
import { bootstrap, fixed, markdownTable, median, seeded } from "./stats.ts";
import { updatesOf } from "./updates.ts";
import { type Calls, calls } from "./counting.ts";
import { createVariant, type Spec } from "./variants.ts";

const TINY = Deno.env.get("BENCH_TINY") === "1";
const KB = 1024;

function envInt(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name));
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Sizes and counts of one run; BENCH_TINY=1 shrinks every one. */
const config = {
  memoryRounds: TINY ? 2 : envInt("BENCH_ROUNDS", 30),
  ioRounds: TINY ? 2 : envInt("BENCH_IO_ROUNDS", 60),
  memoryRoundMs: 25,
  ioRoundMs: 12,
  memoryMinCount: TINY ? 2 : 20,
  ioMinCount: TINY ? 2 : 3,
  maxCount: TINY ? 5 : 2_000,
  warmupUpdates: TINY ? 20 : 3_000,
  warmupMs: TINY ? 100 : 1_500,
  sizes: [100, 1 * KB, 10 * KB, 50 * KB, 200 * KB],
  targetSizes: [1 * KB, 10 * KB, 50 * KB],
  sizeUsers: TINY ? 20 : 200,
  userCounts: TINY
    ? [100, 1_000]
    : [1_000, 10_000, 100_000, 1_000_000].filter((users) =>
      users <= envInt("BENCH_MAX_USERS", 1_000_000)
    ),
  kvUsers: TINY ? 10 : 100,
  redisUsers: TINY ? 120 : 1_000,
  inFlight: TINY ? 10 : 100,
  largeBytes: 200 * KB,
  memorySessions: TINY ? 2_000 : envInt("BENCH_MEMORY_SESSIONS", 50_000),
  countingUsers: TINY ? 10 : 100,
};
const REDIS_URL = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

const started = performance.now();
const random = seeded(1);
const problems: string[] = [];
const targets: string[] = [];
const sections: string[] = [];

function log(message: string): void {
  console.error(`[bench ${fixed((performance.now() - started) / 1000, 1)}s] ${message}`);
}

/** µs with precision that fits its size. */
function us(value: number): string {
  return fixed(value, Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0);
}

function ratioText(value: number): string {
  return Number.isFinite(value) && value >= 0 ? `${fixed(value, 2)}x` : "n/a";
}

/**
 * Adds a target line: PASS when `value` (the wall-time ratio) meets `want`
 * (at most, or at least) and so does `cpu`, the same ratio in process CPU
 * time, when given (where both sides do the same I/O, CPU time is what
 * differs, and it moves far less than wall time on a loaded machine). "Not
 * settled" when the 90% interval crosses the target, or wall and CPU disagree.
 */
function target(
  name: string,
  value: number,
  want: { atMost?: number; atLeast?: number },
  text: string,
  interval?: [number, number],
  cpu?: number,
): void {
  const meets = (x: number) =>
    Number.isFinite(x) && x >= 0 &&
    (want.atMost === undefined || x <= want.atMost) &&
    (want.atLeast === undefined || x >= want.atLeast);
  const disagree = cpu !== undefined && meets(cpu) !== meets(value);
  const crosses = interval !== undefined && meets(interval[0]) !== meets(interval[1]);
  const pass = meets(value) && (cpu === undefined || meets(cpu));
  const note = disagree
    ? " (not settled: wall and CPU disagree)"
    : crosses
    ? " (not settled: the interval crosses the target)"
    : "";
  targets.push(`${pass ? "PASS" : "FAIL"}  ${name}: ${text}${note}`);
}

function section(title: string, note: string, table: string): void {
  sections.push(`### ${title}\n\n${note}\n\n${table}`);
}

// ------------------------------------------------------------ in memory --

const floor = (framework: "gramio" | "grammy", users: number): Spec => ({
  framework,
  store: "none",
  mode: "change",
  bytes: 100,
  users,
});
const memorySpec = (
  framework: "gramio" | "grammy",
  bytes: number,
  users: number,
  mode: Spec["mode"] = "change",
  seeded = false,
): Spec => ({ framework, store: "memory", mode, bytes, users, seeded });

/** Ours and grammY's overheads (median of per-round differences) and their ratio. */
interface Overheads {
  ours: number;
  grammy: number;
  ratio: number;
  interval: [number, number];
  oursCpu: number;
  grammyCpu: number;
  cpuRatio: number;
  oursFloor: number;
  grammyFloor: number;
}

function overheads(ours: PairResult, grammy: PairResult): Overheads {
  const ratioOf = (series: readonly number[][]) => median(series[0]) / median(series[1]);
  const wall = [differences(ours, "wall"), differences(grammy, "wall")];
  const cpu = [differences(ours, "cpu"), differences(grammy, "cpu")];
  return {
    ours: median(wall[0]),
    grammy: median(wall[1]),
    ratio: ratioOf(wall),
    interval: bootstrap(wall, ratioOf),
    oursCpu: median(cpu[0]),
    grammyCpu: median(cpu[1]),
    cpuRatio: ratioOf(cpu),
    oursFloor: medianOf(ours.base, "wall"),
    grammyFloor: medianOf(grammy.base, "wall"),
  };
}

function overheadRow(first: string, o: Overheads): string[] {
  return [
    first,
    us(o.oursFloor),
    us(o.ours),
    us(o.grammyFloor),
    us(o.grammy),
    `${ratioText(o.ratio)} (${fixed(o.interval[0], 2)}–${fixed(o.interval[1], 2)})`,
    us(o.oursCpu),
    us(o.grammyCpu),
    ratioText(o.cpuRatio),
  ];
}

const OVERHEAD_HEADER = [
  "GramIO floor µs",
  "GramIO + session overhead µs",
  "grammY floor µs",
  "grammY + session() overhead µs",
  "ours/grammY (90%)",
  "CPU overhead ours µs",
  "CPU overhead grammY µs",
  "CPU ours/grammY",
];

const memoryRounds = () => ({
  rounds: config.memoryRounds,
  roundMs: config.memoryRoundMs,
  minCount: config.memoryMinCount,
  maxCount: config.maxCount,
  warmupUpdates: config.warmupUpdates,
  warmupMs: config.warmupMs,
});

/**
 * Every size in one group of paired rounds: a round runs every pair, so a
 * load spike of a few seconds touches a few rounds of each size instead of
 * all rounds of one size.
 */
async function inMemoryBySize(): Promise<void> {
  const users = config.sizeUsers;
  log(`in memory, ${config.sizes.map(sizeLabel).join(", ")} sessions...`);
  const pairs: Pair[] = config.sizes.flatMap((bytes) => [
    { base: floor("gramio", users), variant: memorySpec("gramio", bytes, users) },
    { base: floor("grammy", users), variant: memorySpec("grammy", bytes, users) },
  ]);
  const other = 10 * KB;
  pairs.push(
    { base: floor("gramio", users), variant: memorySpec("gramio", other, users, "read") },
    { base: floor("grammy", users), variant: memorySpec("grammy", other, users, "read") },
    { base: floor("gramio", users), variant: memorySpec("gramio", other, users, "lazy") },
  );
  const results = await runPairs(pairs, memoryRounds(), random, problems, log);
  const rows = config.sizes.map((bytes, i) => {
    const o = overheads(results[2 * i], results[2 * i + 1]);
    if (config.targetSizes.includes(bytes)) {
      target(
        `in memory, eager changing, ${sizeLabel(bytes)}`,
        o.ratio,
        { atMost: 1 },
        `ours/grammY overhead ${ratioText(o.ratio)} (want ≤ 1.00; 90% interval ${
          fixed(o.interval[0], 2)
        }–${fixed(o.interval[1], 2)}); CPU ${ratioText(o.cpuRatio)}; ` +
          `GramIO + session ${us(o.ours)} µs, grammY + session() ${
            us(o.grammy)
          } µs over their floors`,
        o.interval,
        o.cpuRatio,
      );
    }
    return overheadRow(sizeLabel(bytes), o);
  });
  const [read, grammyRead, lazy] = results.slice(-3);
  rows.push(overheadRow(`${sizeLabel(other)}, read-only`, overheads(read, grammyRead)));
  rows.push([
    `${sizeLabel(other)}, lazy, untouched`,
    us(medianOf(lazy.base, "wall")),
    us(median(differences(lazy, "wall"))),
    "—",
    "—",
    "—",
    us(median(differences(lazy, "cpu"))),
    "—",
    "—",
  ]);
  section(
    `In memory: eager, one nested field changed per update, by session size (${users} users)`,
    "Overhead: median over paired rounds of (framework + session) − (same framework, no session), " +
      "µs per update, wall time; CPU: the same with process CPU time. Ratio interval: 90% bootstrap. " +
      "All sizes run in the same rounds.",
    markdownTable(["session", ...OVERHEAD_HEADER], rows),
  );
}

async function inMemoryByUsers(): Promise<void> {
  const bytes = 100;
  log(`in memory, ${config.userCounts.join(", ")} users...`);
  const results = await runPairs(
    config.userCounts.flatMap((users) => [
      { base: floor("gramio", 200), variant: memorySpec("gramio", bytes, users, "change", true) },
      { base: floor("grammy", 200), variant: memorySpec("grammy", bytes, users, "change", true) },
    ]),
    memoryRounds(),
    random,
    problems,
    log,
  );
  const rows = config.userCounts.map((users, i) =>
    overheadRow(users.toLocaleString("en-US"), overheads(results[2 * i], results[2 * i + 1]))
  );
  section(
    `In memory: eager changing update, by number of stored sessions (${sizeLabel(bytes)} sessions)`,
    "Every user's session is stored through the storage's own write before the bot runs; " +
      "consecutive updates are of users far apart. Columns as above.",
    markdownTable(["users", ...OVERHEAD_HEADER], rows),
  );
}

// -------------------------------------------------------------- Deno KV --

let tempDir = "";

const kvSpec = (framework: "gramio" | "grammy", bytes: number, mode: Spec["mode"]): Spec => ({
  framework,
  store: "kv",
  mode,
  bytes,
  users: config.kvUsers,
  kvPath: `${tempDir}/${framework}-${bytes}-${mode}.kv`,
});

const ioRounds = () => ({
  rounds: config.ioRounds,
  roundMs: config.ioRoundMs,
  minCount: config.ioMinCount,
  maxCount: config.maxCount,
  warmupUpdates: TINY ? config.warmupUpdates : 300,
  warmupMs: config.warmupMs,
});

/** Median of per-round ratios variant/base, with its interval, wall and CPU. */
function ratioOfTimes(result: PairResult) {
  const wall = ratios(result, "wall");
  return {
    ratio: median(wall),
    interval: bootstrap([wall], (series) => median(series[0])),
    cpuRatio: median(ratios(result, "cpu")),
    variant: medianOf(result.variant, "wall"),
    base: medianOf(result.base, "wall"),
    variantCpu: medianOf(result.variant, "cpu"),
    baseCpu: medianOf(result.base, "cpu"),
  };
}

/** Every size in one group of paired rounds, as in memory. */
async function denoKv(): Promise<void> {
  log(`Deno KV file, ${config.sizes.map(sizeLabel).join(", ")} sessions...`);
  /** What each pair measures: a size and mode, against grammY (or, where it cannot store, a floor). */
  const cases: { bytes: number; mode: "change" | "read"; pair: Pair }[] = config.sizes.map((
    bytes,
  ) => ({
    bytes,
    mode: "change",
    pair: {
      // grammY's adapter hands KV the value as is: over 64 KiB, KV refuses it.
      base: bytes > 60 * KB ? floor("gramio", config.kvUsers) : kvSpec("grammy", bytes, "change"),
      variant: kvSpec("gramio", bytes, "change"),
      typical: true,
    },
  }));
  cases.splice(3, 0, {
    bytes: 10 * KB,
    mode: "read",
    pair: {
      base: kvSpec("grammy", 10 * KB, "read"),
      variant: kvSpec("gramio", 10 * KB, "read"),
      typical: true,
    },
  });
  const results = await runPairs(cases.map(({ pair }) => pair), ioRounds(), random, problems, log);
  const rows = cases.map(({ bytes, mode, pair }, i): string[] => {
    const result = results[i];
    const first = `${sizeLabel(bytes)}, ${mode === "change" ? "changing" : "read-only"}`;
    if (pair.base.store === "none") {
      return [
        first,
        us(medianOf(result.variant, "wall")),
        "cannot store it (KV: value too large)",
        "—",
        us(medianOf(result.variant, "cpu")),
        "—",
        "—",
      ];
    }
    const r = ratioOfTimes(result);
    const want = mode === "change" ? 1 : 0.5;
    if (mode === "read" || config.targetSizes.includes(bytes)) {
      target(
        `Deno KV file, ${mode === "change" ? "eager changing" : "read-only"}, ${sizeLabel(bytes)}`,
        r.ratio,
        { atMost: want },
        `ours/grammY per update ${ratioText(r.ratio)} (want ≤ ${fixed(want, 2)}; 90% interval ${
          fixed(r.interval[0], 2)
        }–${fixed(r.interval[1], 2)}); CPU ${ratioText(r.cpuRatio)}; ${us(r.variant)} µs vs ${
          us(r.base)
        } µs per update`,
        r.interval,
        // Read-only: the point is the write (disk I/O) we skip, which CPU time does not see.
        mode === "change" ? r.cpuRatio : undefined,
      );
    }
    return [
      first,
      us(r.variant),
      us(r.base),
      `${ratioText(r.ratio)} (${fixed(r.interval[0], 2)}–${fixed(r.interval[1], 2)})`,
      us(r.variantCpu),
      us(r.baseCpu),
      ratioText(r.cpuRatio),
    ];
  });
  section(
    `Deno KV file: total per update, by session size (${config.kvUsers} users)`,
    "grammY: `session()` on a Deno KV adapter written like @grammyjs/storage-denokv (bench/grammy_kv.ts). " +
      "Wall and process CPU µs per update: in each round the median of its updates' own times " +
      "(commits waiting on a disk other processes share would otherwise decide rounds), then the median " +
      "over paired rounds; ratio: median of per-round ratios (90% interval). All sizes run in the same rounds.",
    markdownTable(
      [
        "session, update",
        "GramIO + session µs",
        "grammY + session() µs",
        "ours/grammY (90%)",
        "CPU ours µs",
        "CPU grammY µs",
        "CPU ours/grammY",
      ],
      rows,
    ),
  );
}

// ---------------------------------------------------------------- Redis --

async function redisReachable(): Promise<string | undefined> {
  const url = new URL(REDIS_URL);
  try {
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 6379) });
    conn.close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function redis(): Promise<boolean> {
  const unreachable = await redisReachable();
  const names = ["Redis, one at a time", `Redis, ${config.inFlight} in flight`];
  if (unreachable) {
    const message = `!!! Redis unreachable at ${REDIS_URL} (${unreachable}): NOT MEASURED !!!`;
    console.error(`\n${message}\n`);
    for (const name of names) targets.push(`SKIP  ${name}: ${message}`);
    return false;
  }
  log("Redis...");
  const spec = (byHand: boolean): Spec => ({
    framework: "gramio",
    store: "redis",
    byHand,
    mode: "change",
    bytes: 1 * KB,
    users: config.redisUsers,
    redisUrl: REDIS_URL,
  });
  const results = await runPairs(
    [
      { base: spec(true), variant: spec(false), typical: true },
      { base: spec(true), variant: spec(false), inFlight: config.inFlight },
    ],
    ioRounds(),
    random,
    problems,
    log,
  );
  const rows = results.map((result, i) => {
    // Rate ratio: by hand's time / ours, per round.
    const rates = ratios(result, "wall").map((ratio) => 1 / ratio);
    const rate = median(rates);
    const interval = bootstrap([rates], (series) => median(series[0]));
    target(
      names[i],
      rate,
      { atLeast: 0.9 },
      `ours at ${fixed(100 * rate, 1)}% of GramIO with GET/SET by hand (want ≥ 90%; 90% interval ${
        fixed(100 * interval[0], 1)
      }–${fixed(100 * interval[1], 1)}%); ${fixed(1e6 / medianOf(result.variant, "wall"), 0)} vs ${
        fixed(1e6 / medianOf(result.base, "wall"), 0)
      } updates/s`,
      interval,
    );
    return [
      i === 0 ? "one at a time" : `${config.inFlight} in flight`,
      fixed(1e6 / medianOf(result.variant, "wall"), 0),
      fixed(1e6 / medianOf(result.base, "wall"), 0),
      `${fixed(100 * rate, 1)}% (${fixed(100 * interval[0], 1)}–${fixed(100 * interval[1], 1)})`,
      us(medianOf(result.variant, "cpu")),
      us(medianOf(result.base, "cpu")),
    ];
  });
  section(
    `Redis: ${sizeLabel(1 * KB)} sessions, eager changing, ioredis, ${config.redisUsers} users`,
    "By hand: a GramIO middleware that GETs the session, parses it with devalue (Dates, Maps and Sets " +
      "survive, as with the plugin), runs the handler and SETs it back; no locking, no compare-and-set. " +
      "Ours: GET, then a compare-and-set Lua script (EVALSHA, ~8 µs of Redis CPU against <1 µs for SET); " +
      "on ioredis, commands sent while another waits leave in one socket write (by hand: one write each). " +
      "One at a time: each round's median update time; in flight: each round's mean. Rates from the " +
      "medians over paired rounds; ratio: median of per-round ratios (90% interval). CPU: this process " +
      "only (not the Redis server's).",
    markdownTable(
      [
        "updates",
        "GramIO + session updates/s",
        "by hand updates/s",
        "ours/by hand (90%)",
        "CPU ours µs/update",
        "CPU by hand µs/update",
      ],
      rows,
    ),
  );
  return true;
}

// ------------------------------------------------- KV over 64 KiB, heap --

async function largeKv(): Promise<void> {
  log(`Deno KV, ${sizeLabel(config.largeBytes)} sessions: serializations per save...`);
  const result: LargeKvResult = await largeKvSaves(
    tempDir,
    config.largeBytes,
    TINY ? 2 : 5,
    TINY ? 2 : 3,
    TINY ? 2 : 15,
  );
  const { first, later } = result;
  const once = [first, later].every((phase) =>
    phase.serializationsPerSave === 1 && phase.refusedCommits === 0
  );
  target(
    `Deno KV, ${sizeLabel(result.bytes)} session`,
    once ? 1 : 0,
    { atLeast: 1 },
    `serializations per save ${fixed(first.serializationsPerSave, 2)} for a new session, ${
      fixed(later.serializationsPerSave, 2)
    } later (want 1.00), refused commits ${first.refusedCommits + later.refusedCommits} ` +
      `(want 0); save ${fixed(result.saveMs, 1)} ms (one serialize + one commit: ${
        fixed(result.floorMs, 1)
      } ms)`,
  );
  section(
    "Deno KV sessions over 64 KiB",
    "Serializations per save: node:v8 serialize calls plus commits KV refused as too large (KV serialized " +
      "the whole session for them), counted around a bot's changing updates: each user's first (a new " +
      "session) and the later ones. Save: median storage.set of an existing session; floor: one " +
      "serialize, 64 KiB chunks, one atomic commit.",
    markdownTable(
      [
        "session, saves",
        "saves",
        "serializations per save",
        "commits per save",
        "refused commits",
        "save ms",
        "floor ms",
      ],
      ([["first (new session)", first], ["later", later]] as [string, SavePhase][]).map(
        ([name, phase]) => {
          const { saves, serializationsPerSave, commitsPerSave, refusedCommits } = phase;
          return [
            `${sizeLabel(result.bytes)}, ${name}`,
            String(saves),
            fixed(serializationsPerSave, 2),
            fixed(commitsPerSave, 2),
            String(refusedCommits),
            name === "later" ? fixed(result.saveMs, 2) : "",
            name === "later" ? fixed(result.floorMs, 2) : "",
          ];
        },
      ),
    ),
  );
}

async function heap(): Promise<void> {
  const rows: string[][] = [];
  const sessions = config.memorySessions;
  log(`heap per session (${sessions} sessions, subprocesses)...`);
  const floors = {
    gramio: await heapPerSession(floor("gramio", 0), Math.min(sessions, 20_000)),
    grammy: await heapPerSession(floor("grammy", 0), Math.min(sessions, 20_000)),
  };
  for (const [bytes, count] of [[100, sessions], [1 * KB, Math.round(sessions / 5)]]) {
    const ours = await heapPerSession(memorySpec("gramio", bytes, 0), count) - floors.gramio;
    const grammy = await heapPerSession(memorySpec("grammy", bytes, 0), count) - floors.grammy;
    const ratio = ours / grammy;
    target(
      `memory per stored in-memory session, ${sizeLabel(bytes)}`,
      ratio,
      { atMost: 1 },
      `ours ${fixed(ours, 0)} B vs grammY ${fixed(grammy, 0)} B = ${
        ratioText(ratio)
      } (want ≤ 1.00)`,
    );
    rows.push([
      sizeLabel(bytes),
      count.toLocaleString("en-US"),
      fixed(ours, 0),
      fixed(grammy, 0),
      ratioText(ratio),
    ]);
  }
  section(
    "Heap per stored in-memory session",
    "Heap in use after a full collection, before and after N users' first (changing) update, per " +
      "session, minus what the framework alone keeps per update (GramIO " +
      `${fixed(floors.gramio, 1)} B, grammY ${fixed(floors.grammy, 1)} B).`,
    markdownTable(
      ["session", "sessions", "GramIO + session B", "grammY + session() B", "ours/grammY"],
      rows,
    ),
  );
}

// ------------------------------------------------------ storage calls --

/** Reads, writes and deletes per update on each user's second update (the first creates it). */
async function countingPass(redisUp: boolean): Promise<void> {
  log("counting storage calls...");
  const users = config.countingUsers;
  const cases: [string, Spec][] = [
    ["GramIO + session, memory, eager changing", memorySpec("gramio", 100, users)],
    ["GramIO + session, memory, eager read-only", memorySpec("gramio", 100, users, "read")],
    ["GramIO + session, memory, lazy untouched", memorySpec("gramio", 100, users, "lazy")],
    ["GramIO + session, Deno KV, eager changing", { ...kvSpec("gramio", 100, "change"), users }],
    ["GramIO + session, Deno KV, eager read-only", { ...kvSpec("gramio", 100, "read"), users }],
    ["grammY + session(), memory, changing", memorySpec("grammy", 100, users)],
    ["grammY + session(), memory, read-only", memorySpec("grammy", 100, users, "read")],
    ["grammY + session(), Deno KV, changing", { ...kvSpec("grammy", 100, "change"), users }],
  ];
  if (redisUp) {
    const redisSpec = (byHand: boolean): Spec => ({
      framework: "gramio",
      store: "redis",
      byHand,
      mode: "change",
      bytes: 100,
      users,
      redisUrl: REDIS_URL,
    });
    cases.push(
      ["GramIO + session, Redis, eager changing", redisSpec(false)],
      ["GramIO + GET/SET by hand, Redis, changing", redisSpec(true)],
    );
  }
  const rows: string[][] = [];
  const counted = new Map<string, Calls>();
  for (const [label, spec] of cases) {
    const seen = calls();
    const variant = await createVariant(
      spec.kvPath ? { ...spec, kvPath: `${tempDir}/counting-${spec.framework}.kv` } : spec,
      seen,
    );
    let perUpdate: Calls;
    try {
      for (const update of updatesOf(users, users)) await variant.handle(update);
      Object.assign(seen, calls());
      for (const update of updatesOf(users, users, users)) await variant.handle(update);
      if (variant.errors.length) throw variant.errors[0];
      perUpdate = {
        reads: seen.reads / users,
        writes: seen.writes / users,
        deletes: seen.deletes / users,
      };
    } finally {
      await variant.close(); // may delete what it stored: not counted
    }
    counted.set(label, perUpdate);
    rows.push([
      label,
      fixed(perUpdate.reads, 2),
      fixed(perUpdate.writes, 2),
      fixed(perUpdate.deletes, 2),
    ]);
  }
  const pair = (label: string) => {
    const seen = counted.get(label)!;
    return `${fixed(seen.reads, 2)}/${fixed(seen.writes, 2)}`;
  };
  const want: [string, string, string][] = [
    ["eager", "GramIO + session, memory, eager changing", "1.00/1.00"],
    ["read-only", "GramIO + session, memory, eager read-only", "1.00/0.00"],
    ["lazy untouched", "GramIO + session, memory, lazy untouched", "0.00/0.00"],
    ["KV", "GramIO + session, Deno KV, eager changing", "1.00/1.00"],
  ];
  const exact = want.every(([, label, expected]) => pair(label) === expected);
  targets.push(
    `${exact ? "PASS" : "FAIL"}  storage calls per update (reads/writes): ${
      want.map(([name, label]) => `${name} ${pair(label)}`).join(", ")
    } (want eager 1/1, read-only 1/0, lazy untouched 0/0, KV 1/1)`,
  );
  section(
    "Storage calls per update",
    `Counted on each of ${users} users' second update (the first creates the session), untimed.`,
    markdownTable(["variant", "reads/update", "writes/update", "deletes/update"], rows),
  );
}

// ----------------------------------------------------------------- run --

async function machine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1]?.trim() ??
      cpu;
  } catch {
    // not Linux
  }
  return `${cpu}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((value) => fixed(value, 2)).join(" ");
  } catch {
    return "n/a";
  }
}

/**
 * Whether the section `name` runs: BENCH_ONLY, a comma-separated list of
 * memory, users, kv, redis, large, heap and calls, picks some; unset, all.
 */
function runs(name: string): boolean {
  const only = Deno.env.get("BENCH_ONLY");
  return !only || only.split(",").map((part) => part.trim()).includes(name);
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  tempDir = await Deno.makeTempDir({ prefix: "gramio-session-bench-" });
  try {
    if (runs("memory")) await inMemoryBySize();
    if (runs("users")) await inMemoryByUsers();
    if (runs("kv")) await denoKv();
    const redisUp = runs("redis") ? await redis() : false;
    if (runs("large")) await largeKv();
    if (runs("heap")) await heap();
    if (runs("calls")) await countingPass(redisUp);
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
  if (problems.length) {
    for (const problem of problems) targets.push(`FAIL  sanity: ${problem}`);
    Deno.exitCode = 1;
  } else {
    targets.push("PASS  sanity: every update handled once, no errors, every change stored");
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `## Session benchmark, ${new Date().toISOString().slice(0, 10)}${TINY ? " (tiny)" : ""}`,
  );
  console.log("");
  console.log(
    `Machine: ${await machine()}; load average ${loadBefore} at start, ${loadAverage()} at end.`,
  );
  console.log(
    `Whole run ${
      fixed(seconds, 0)
    } s; ${config.memoryRounds} paired rounds in memory, ${config.ioRounds} on KV and Redis.`,
  );
  console.log("");
  console.log("### Targets (issue 16)");
  console.log("");
  for (const line of targets) console.log(line);
  for (const text of sections) console.log(`\n${text}`);
}

await main();
