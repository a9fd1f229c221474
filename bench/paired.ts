/**
 * Paired rounds: each pair (a base, such as a framework with no session, and
 * a variant) runs back to back in every round, in alternating order, pairs in
 * a new shuffled order each round. Whatever the machine does in a round hits
 * both halves of a pair alike, so per-round differences (or ratios) cancel the
 * load that a mean of separate runs would keep: on a busy 2-core machine the
 * floor alone moved by 42 µs between rounds.
 *
 * A pair's round has a fixed number of updates, sized from the warmup so the
 * slower half takes about `roundMs`; both halves run the same count.
 *
 * @module
 */

import { Remote } from "./remote.ts";
import { median, shuffle } from "./stats.ts";
import type { Spec } from "./variants.ts";
import type { Timing } from "./worker.ts";

/** A base and a variant, timed back to back. */
export interface Pair {
  base: Spec;
  variant: Spec;
  /** Updates in flight at once (1: one after another). */
  inFlight?: number;
  /**
   * A round's value is the median of its updates' own times, not their mean:
   * for I/O-bound pairs, where a few commits waiting on a disk that other
   * processes share would otherwise decide a round. One at a time only.
   */
  typical?: boolean;
}

/** How long and how often to run a group of pairs. */
export interface Rounds {
  rounds: number;
  /** Target wall time of the slower half of a pair, per round. */
  roundMs: number;
  minCount: number;
  maxCount: number;
  /** Warmup per worker after every user's first update (unless seeded): at most this many updates... */
  warmupUpdates: number;
  /** ...or this long. */
  warmupMs: number;
}

/** One pair's per-round, per-update times, µs. */
export interface PairResult {
  pair: Pair;
  baseLabel: string;
  variantLabel: string;
  /** Updates per round of each half. */
  count: number;
  base: Timing[];
  variant: Timing[];
}

/** Per-round differences variant - base, µs per update. */
export function differences(result: PairResult, of: keyof Timing): number[] {
  return result.variant.map((timing, i) => timing[of] - result.base[i][of]);
}

/** Per-round ratios variant / base. */
export function ratios(result: PairResult, of: keyof Timing): number[] {
  return result.variant.map((timing, i) => timing[of] / result.base[i][of]);
}

/** The median per-update time of one half, µs. */
export function medianOf(timings: readonly Timing[], of: keyof Timing): number {
  return median(timings.map((timing) => timing[of]));
}

/**
 * Runs `pairs` for `options.rounds` paired rounds. Equal specs share one
 * worker (a floor serves every pair it is the base of). Problems found by the
 * sanity checks (errors, lost updates, lost changes) are pushed to `problems`.
 */
export async function runPairs(
  pairs: readonly Pair[],
  options: Rounds,
  random: () => number,
  problems: string[],
  log: (message: string) => void,
): Promise<PairResult[]> {
  const remotes = new Map<string, Remote>();
  const remoteOf = (spec: Spec) => remotes.get(JSON.stringify(spec))!;
  try {
    for (const spec of pairs.flatMap((pair) => [pair.base, pair.variant])) {
      const id = JSON.stringify(spec);
      if (remotes.has(id)) continue;
      const remote = new Remote(spec);
      remotes.set(id, remote);
      await remote.start(options.warmupUpdates, options.warmupMs);
    }
    const results = pairs.map((pair): PairResult => {
      const slowest = Math.max(
        remoteOf(pair.base).wallPerUpdate,
        remoteOf(pair.variant).wallPerUpdate,
      );
      const count = Math.round(
        Math.min(options.maxCount, Math.max(options.minCount, (options.roundMs * 1000) / slowest)),
      );
      return {
        pair,
        baseLabel: remoteOf(pair.base).label,
        variantLabel: remoteOf(pair.variant).label,
        // Whole batches when updates are in flight together.
        count: pair.inFlight
          ? Math.max(1, Math.round(count / pair.inFlight)) * pair.inFlight
          : count,
        base: [],
        variant: [],
      };
    });
    log(
      `${options.rounds} paired rounds of ${
        results.map((result) => result.count).join("/")
      } updates: ${results.map((result) => result.variantLabel).join("; ")}`,
    );
    for (let round = 0; round < options.rounds; round++) {
      for (const result of shuffle([...results], random)) {
        const halves = ["base", "variant"] as const;
        const order = (round + results.indexOf(result)) % 2 ? halves : [...halves].reverse();
        for (const half of order) {
          const { wall, cpu } = await remoteOf(result.pair[half]).ask(
            {
              type: "run",
              start: round * result.count,
              count: result.count,
              inFlight: result.pair.inFlight,
              typical: result.pair.typical,
            },
            "ran",
          );
          result[half].push({ wall, cpu });
        }
      }
    }
    for (const remote of remotes.values()) await check(remote, problems);
    return results;
  } finally {
    for (const remote of remotes.values()) remote.terminate();
  }
}

/** Every update handled once, without errors, and every change stored. */
async function check(remote: Remote, problems: string[]): Promise<void> {
  const done = await remote.ask({ type: "finish" }, "done");
  const name = remote.label;
  if (done.errors.length) {
    problems.push(`${name}: ${done.errors.length} errors, first: ${done.errors[0]}`);
  }
  if (done.handled !== done.sent) {
    problems.push(`${name}: handled ${done.handled} of ${done.sent} updates`);
  }
  if (done.storedChanges !== done.changesSent) {
    problems.push(`${name}: ${done.storedChanges} changes stored, expected ${done.changesSent}`);
  }
}
