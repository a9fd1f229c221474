/**
 * What change detection costs per update, from the stored session to what
 * the storage gets, in process CPU ns: whole-session snapshots as before
 * (the storage's copy, `takeSnapshot` when handed out, `hasChanged` and the
 * depth check at the save); field tracking on a storage's copy (Deno KV,
 * Redis: fields handed out as they are with a print, large ones when read);
 * and in memory (the stored objects, copies only of what handlers read, and
 * the object handed over). Sessions of 1 to 100 top-level fields
 * (primitives, small objects, large objects nobody reads), and 1, 10 and 50
 * KB sessions of a small cart, a small form and a long history where one cart
 * field changes or is only read.
 *
 * Paired rounds: each round times the three back to back in a rotating
 * order; ratios are medians of per-round ratios.
 *
 * `deno run -A bench/field_tracking.ts [--rounds N]`
 *
 * @module
 */

import { serialize } from "node:v8";
import { parseArgs } from "node:util";
import { hasChanged, takeSnapshot } from "../src/change_detection/mod.ts";
import { cloneValue } from "../src/clone.ts";
import { TrackedFields } from "../src/field_tracking/mod.ts";
import { changedSince, handOut } from "../src/session_base.ts";
import { assertStorableDepth } from "../src/storable_depth.ts";
import { cpuMicroseconds, fixed, markdownTable, median, type Sample } from "./stats.ts";

type Session = Record<string, unknown>;

/** One scenario: a stored session and what one update does to its copy. */
interface Scenario {
  name: string;
  stored: Session;
  /** The handler: changes (or only reads) the session. */
  handle: (session: Session) => void;
}

/** A session of `{ cart, form, history }`, the history grown until V8 serializes it to `bytes`. */
export function cartFormHistory(bytes: number): Session {
  const history: unknown[] = [];
  const session: Session = {
    count: 0,
    cart: { items: [{ sku: "SKU-1", quantity: 1, price: 9.5 }], coupon: null, total: 9.5 },
    form: { step: 1, answers: { name: "Ada", email: "ada@example.com" } },
    history,
  };
  const start = Date.UTC(2025, 0, 1);
  for (let i = 0; serialize(session).byteLength < bytes; i++) {
    history.push({
      id: i,
      at: new Date(start + i * 60_000),
      text: `message number ${i} about an order`,
      meta: { chatId: 1_000_001, replyTo: i > 0 && i % 3 === 0 ? i - 1 : null },
    });
  }
  return session;
}

function fields(count: number, value: (i: number) => unknown): Session {
  const session: Session = {};
  for (let i = 0; i < count; i++) session[`f${i}`] = value(i);
  return session;
}

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const count of [1, 5, 20, 100]) {
    list.push({
      name: `${count} number field(s), one incremented`,
      stored: fields(count, (i) => i),
      handle: (s) => void (s.f0 = (s.f0 as number) + 1),
    });
  }
  for (const count of [1, 5, 20, 100]) {
    list.push({
      name: `${count} small object field(s), one changed`,
      stored: fields(count, (i) => ({ id: i, name: "field", done: false })),
      handle: (s) => void ((s.f0 as Session).done = true),
    });
  }
  for (const count of [1, 5, 20]) {
    list.push({
      name: `${count} large array field(s) + a number, the number changed`,
      stored: { ...fields(count, () => Array.from({ length: 200 }, (_, i) => i)), n: 0 },
      handle: (s) => void (s.n = (s.n as number) + 1),
    });
  }
  for (const kb of [1, 10, 50]) {
    list.push({
      name: `cart/form/history ${kb} KB, cart.coupon changed`,
      stored: cartFormHistory(kb * 1024),
      handle: (s) => void ((s.cart as Session).coupon = "SPRING"),
    });
    list.push({
      name: `cart/form/history ${kb} KB, cart read only`,
      stored: cartFormHistory(kb * 1024),
      handle: (s) => void ((s.cart as Session).total as number),
    });
  }
  return list;
}

/**
 * One update's change detection from the stored session to what the storage
 * gets: the storage's copy for the handlers (except in memory, which hands
 * out its own objects to field tracking), the handler, the compare, and when
 * changed the depth check (and in memory the object handed over).
 */
type Detector = (scenario: Scenario) => unknown;

const snapshots: Detector = ({ stored, handle }) => {
  const session = cloneValue(stored);
  const base = takeSnapshot(session);
  handle(session);
  if (!hasChanged(base, session)) return undefined;
  assertStorableDepth(session);
  return session;
};

/** A storage that hands out copies (Deno KV, Redis): field tracking when it pays, else a snapshot. */
const ownCopy: Detector = ({ stored, handle }) => {
  const { session, base } = handOut(cloneValue(stored));
  handle(session as Session);
  if (!changedSince(base, session)) return undefined;
  if (base instanceof TrackedFields) base.checkDepth(session);
  else assertStorableDepth(session);
  return session;
};

/** In memory: the stored objects themselves, copies only of what handlers read. */
const inMemory: Detector = ({ stored, handle }) => {
  const { session, base } = handOut(stored, undefined, { shape: "tree" });
  handle(session as Session);
  if (!changedSince(base, session)) return undefined;
  return (base as TrackedFields).handOver().value;
};

let sink: unknown;

function time(detector: Detector, scenario: Scenario, ops: number): Sample {
  const cpu = cpuMicroseconds();
  const start = performance.now();
  for (let i = 0; i < ops; i++) sink = detector(scenario);
  return {
    cpu: ((cpuMicroseconds() - cpu) * 1e3) / ops,
    wall: ((performance.now() - start) * 1e6) / ops,
  };
}

/** The table, as Markdown: ns per update, median of paired rounds, and ratios to snapshots. */
export function fieldTrackingTable(rounds = 21): string {
  const detectors = [snapshots, ownCopy, inMemory];
  const rows: string[][] = [];
  for (const scenario of scenarios()) {
    for (let i = 0; i < 3; i++) time(snapshots, scenario, 20);
    // About 3 ms per sample of the slowest.
    const ops = Math.max(10, Math.round(3e6 / time(snapshots, scenario, 50).wall));
    const samples = detectors.map(() => [] as Sample[]);
    for (let round = -2; round < rounds; round++) {
      for (let k = 0; k < detectors.length; k++) {
        const index = (k + Math.max(round, 0)) % detectors.length;
        const sample = time(detectors[index], scenario, ops);
        if (round >= 0) samples[index].push(sample);
      }
    }
    const cpu = (index: number) => median(samples[index].map((sample) => sample.cpu));
    const ratio = (index: number) =>
      median(samples[index].map((sample, round) => sample.cpu / samples[0][round].cpu));
    rows.push([
      scenario.name,
      fixed(cpu(0), 0),
      fixed(cpu(1), 0),
      fixed(ratio(1), 2),
      fixed(cpu(2), 0),
      fixed(ratio(2), 2),
    ]);
  }
  return markdownTable(
    [
      "update",
      "snapshots ns",
      "own copy ns",
      "own copy / snapshots",
      "in memory ns",
      "in memory / snapshots",
    ],
    rows,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rounds: { type: "string", default: "21" } },
  });
  console.log(
    `Change detection per update (CPU ns, median of paired rounds); ` +
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores\n`,
  );
  console.log(fieldTrackingTable(Number(values.rounds)));
  if (sink === 0) console.log(sink);
}
