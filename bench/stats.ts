/**
 * Small statistics and formatting helpers for the benchmark report.
 *
 * @module
 */

import process from "node:process";

/** The `q` quantile (0..1) of `values`, linearly interpolated. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** A number with `digits` decimals, or "n/a". */
export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** A Markdown table with right-aligned numeric columns (all but the first). */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length))
  );
  const line = (cells: readonly string[]) =>
    "| " +
    cells.map((cell, column) =>
      column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])
    )
      .join(" | ") +
    " |";
  const rule = "| " +
    widths.map((width, column) => column === 0 ? "-".repeat(width) : "-".repeat(width - 1) + ":")
      .join(" | ") +
    " |";
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** A seeded generator, so every run draws the same resamples and orders. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Shuffles in place (Fisher-Yates) and returns `items`. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * A 90% bootstrap interval of `estimate` over paired rounds: `samples` are
 * per-round values of each series (resampled by round, each series on its own
 * draws), `estimate` turns the resampled series into one number.
 */
export function bootstrap(
  samples: readonly (readonly number[])[],
  estimate: (series: readonly number[][]) => number,
  draws = 400,
): [number, number] {
  const random = seeded(7);
  const results: number[] = [];
  for (let draw = 0; draw < draws; draw++) {
    const series = samples.map((values) =>
      Array.from({ length: values.length }, () => values[Math.floor(random() * values.length)])
    );
    results.push(estimate(series));
  }
  return [quantile(results, 0.05), quantile(results, 0.95)];
}

/** One timing sample: ns per call, in process CPU time and in wall time. */
export interface Sample {
  cpu: number;
  wall: number;
}

/** Process CPU time (user + system, every thread), µs. */
export function cpuMicroseconds(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
