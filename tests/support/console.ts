/**
 * Console output captured for assertions, without printing it.
 *
 * @module
 */

import { format } from "node:util";

/** Collects console.warn output while `run` runs. */
export async function captureWarnings(run: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(format(...args));
  try {
    await run();
  } finally {
    console.warn = warn;
  }
  return warnings;
}
