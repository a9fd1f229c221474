/**
 * What change detection costs per update on nested sessions: `takeSnapshot`
 * when the session is handed out plus `hasChanged` when the handlers are done,
 * for a read-only update (nothing changed, so the compare walks everything:
 * the most it can cost). Three shapes (a cart, a form, a history), each grown
 * until its V8 serialization (what Deno KV stores) reaches 1 KB, 10 KB and
 * 50 KB.
 *
 * Paired rounds: every round times each detector on the same session back to
 * back, in a rotating order; a ratio is the median of per-round ratios, so
 * that the machine's noise, which hits both sides of a round alike, cancels.
 * The stable reference is `structuredClone` plus a naive deep equal (no
 * cycle or sharing tracking); `--against <file>` also times another copy of
 * `src/change_detection/mod.ts` (e.g. main's), and its ratio column shows
 * ours/theirs.
 *
 * `deno run -A bench/change_detection.ts [--against <path>] [--rounds N]`
 *
 * @module
 */

import { serialize } from "node:v8";
import { parseArgs } from "node:util";
import * as ours from "../src/change_detection/mod.ts";
import { cpuMicroseconds, fixed, markdownTable, median, type Sample } from "./stats.ts";

/** One snapshot-and-compare implementation: `run` snapshots and compares once. */
interface Detector {
  name: string;
  run: (session: Record<string, unknown>) => boolean;
}

type ChangeDetection = Pick<typeof ours, "takeSnapshot" | "hasChanged">;

function snapshotDetector(name: string, module: ChangeDetection): Detector {
  return {
    name,
    run: (session) => module.hasChanged(module.takeSnapshot(session), session),
  };
}

/** The reference: a structured clone and a deep equal that trusts the data to be a tree. */
const reference: Detector = {
  name: "structuredClone + deep equal",
  run: (session) => !deepEqual(session, structuredClone(session)),
};

function deepEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    return Object.is(a, b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [key, value] of a) if (!deepEqual(value, b.get(key))) return false;
    return true;
  }
  if (a instanceof Set) {
    if (!(b instanceof Set) || a.size !== b.size) return false;
    for (const item of a) if (!b.has(item)) return false;
    return true;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) {
      return false;
    }
  }
  return true;
}

/** Deterministic pseudo-random numbers, so every run builds the same sessions. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = ("order pizza margherita delivery tomorrow evening please add extra cheese " +
  "thanks where is my parcel tracking number status refund coupon code total").split(" ");

export type Shape = "cart" | "form" | "history";

/** A session of `shape` whose V8 serialization just reaches `bytes`. */
export function sampleSession(shape: Shape, bytes: number): Record<string, unknown> {
  const next = random(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const words = (count: number) => Array.from({ length: count }, () => pick(WORDS)).join(" ");
  const start = Date.UTC(2025, 0, 1);
  const data: Record<string, unknown> = {
    count: 0,
    user: { id: 1_000_001, firstName: "Ada", language: "en", premium: false },
  };
  let grow: (i: number) => void;
  if (shape === "cart") {
    const items: unknown[] = [];
    data.cart = { items, coupon: null, currency: "EUR", updatedAt: new Date(start) };
    grow = (i) =>
      items.push({
        sku: `SKU-${1000 + i}`,
        title: words(3),
        quantity: 1 + (i % 3),
        price: Math.round(next() * 5000) / 100,
        options: { size: pick(["S", "M", "L"]), color: pick(["red", "blue", "black"]) },
      });
  } else if (shape === "form") {
    const fields: Record<string, unknown> = {};
    data.form = { id: "signup", step: 2, fields, touched: new Set<string>(), submitted: false };
    grow = (i) => {
      fields[`field${i}`] = {
        value: words(2),
        valid: next() < 0.9,
        errors: next() < 0.2 ? ["required"] : [],
      };
      (data.form as { touched: Set<string> }).touched.add(`field${i}`);
    };
  } else {
    const history: unknown[] = [];
    data.history = history;
    data.counters = new Map([["messages", 0], ["orders", 7]]);
    grow = (i) =>
      history.push({
        id: i,
        at: new Date(start + i * 60_000),
        kind: pick(["message", "command", "callback"]),
        text: words(6),
        meta: { chatId: 1_000_001, replyTo: i > 0 && next() < 0.3 ? i - 1 : null },
      });
  }
  for (let i = 0; serialize(data).byteLength < bytes; i++) grow(i);
  return data;
}

/** `ops` calls of `detector.run(data)` in a row. */
function time(detector: Detector, data: Record<string, unknown>, ops: number): Sample {
  const run = detector.run;
  let changed = false;
  const cpu = cpuMicroseconds();
  const start = performance.now();
  for (let i = 0; i < ops; i++) changed ||= run(data);
  const wall = ((performance.now() - start) * 1e6) / ops;
  const sample = { cpu: ((cpuMicroseconds() - cpu) * 1e3) / ops, wall };
  if (changed) throw new Error(`${detector.name} saw a change in an unchanged session`);
  return sample;
}

/**
 * The table, as Markdown: per session and detector, median ns per call in
 * process CPU time (what the ratios use: a loaded machine stretches wall time
 * more than CPU time), ns per KB, and median wall time; then the paired ratios.
 */
export function changeDetectionTable(detectors: readonly Detector[], rounds = 31): string {
  const [mine, ...others] = detectors;
  const rows: string[][] = [];
  for (const bytes of [1024, 10 * 1024, 50 * 1024]) {
    for (const shape of ["cart", "form", "history"] as const) {
      const data = sampleSession(shape, bytes);
      const kb = serialize(data).byteLength / 1024;
      // About 5 ms per sample for the first detector.
      for (let i = 0; i < 3; i++) time(mine, data, 20); // warms up before sizing
      const ops = Math.max(5, Math.round(5e6 / time(mine, data, 50).wall));
      const samples = detectors.map(() => [] as Sample[]);
      for (let round = -2; round < rounds; round++) { // two rounds warm up
        for (let k = 0; k < detectors.length; k++) {
          const index = (k + Math.max(round, 0)) % detectors.length;
          const sample = time(detectors[index], data, ops);
          if (round >= 0) samples[index].push(sample);
        }
      }
      const row = [`${shape}, ${fixed(kb)} KB`];
      for (const runs of samples) {
        const cpu = median(runs.map((sample) => sample.cpu));
        row.push(fixed(cpu, 0), fixed(cpu / kb, 0), fixed(median(runs.map((s) => s.wall)), 0));
      }
      for (let i = 1; i < samples.length; i++) {
        const ratios = samples[0].map((sample, round) => sample.cpu / samples[i][round].cpu);
        row.push(fixed(median(ratios), 2));
      }
      rows.push(row);
    }
  }
  const header = ["session (V8 bytes)"];
  for (const detector of detectors) {
    header.push(`${detector.name} ns CPU`, "ns/KB CPU", "ns wall");
  }
  for (const other of others) header.push(`${mine.name} / ${other.name}`);
  return markdownTable(header, rows);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { against: { type: "string" }, rounds: { type: "string", default: "31" } },
  });
  const detectors = [snapshotDetector("ours", ours), reference];
  if (values.against) {
    const theirs = await import(new URL(values.against, `file://${Deno.cwd()}/`).href);
    detectors.push(snapshotDetector("against", theirs as ChangeDetection));
  }
  console.log(
    `takeSnapshot + hasChanged, unchanged session (full compare); Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores\n`,
  );
  console.log(changeDetectionTable(detectors, Number(values.rounds)));
}
