/**
 * `deno task test`: every check and test, with the independent ones at the
 * same time, since most of the time goes to type checking (CPU) and to tests
 * that wait on subprocesses, npm and HTTP.
 *
 * 1. `deno fmt --check` and `deno lint` (a second each; a failure stops here).
 * 2. At once, each printed as it finishes:
 *    - `deno check --doc .`: every file (tests, examples, bench, scripts) and
 *      every JSDoc example, in one type-checking pass;
 *    - `deno test -A --no-check --parallel` (already type-checked above), test
 *      files in DENO_JOBS parallel workers (default 3: most tests wait);
 *    - `deno run -A scripts/doc_lint.ts` (`deno doc --lint` of the entry
 *      points), then `deno publish --dry-run --no-check` (slow types, package
 *      contents; types are checked above).
 *
 * Extra arguments go to `deno test` (e.g. a test file). Exits non-zero if any
 * step fails, after all have finished.
 *
 *   deno run -A scripts/run_tests.ts
 *
 * Not named `test.ts`: `deno test` would run a file of that name as a test
 * file, and so run this runner again from inside itself.
 *
 * @module
 */

if (!import.meta.main) {
  throw new Error("scripts/run_tests.ts is a program (deno task test), not a module to import.");
}

const root = new URL("..", import.meta.url);
const deno = Deno.execPath();
const started = performance.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Step {
  name: string;
  args: string[];
  env?: Record<string, string>;
}

/** Runs one step with its output captured, and prints it when it ends. */
async function run(step: Step): Promise<boolean> {
  const start = performance.now();
  const { code, stdout, stderr } = await new Deno.Command(deno, {
    args: step.args,
    cwd: root,
    env: step.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const ok = code === 0;
  if (step.name === "deno test") testCounts = countsOf(text);
  const took = seconds(performance.now() - start);
  console.log(`\n=== ${step.name}: ${ok ? "ok" : "FAILED"} in ${took} ===`);
  if (!ok || Deno.env.get("VERBOSE") || step.name.startsWith("deno test")) {
    console.log(text.trimEnd());
  }
  return ok;
}

/** The test counts of `deno test`'s summary line, once it has run. */
let testCounts: string | undefined;

/** "N passed, M failed" from `deno test`'s output ("ok | N passed (S steps) | M failed (T)"). */
function countsOf(output: string): string | undefined {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const summary = [...plain.matchAll(/(\d+) passed[^|\n]*\|\s*(\d+) failed/g)].at(-1);
  return summary && `${summary[1]} passed, ${summary[2]} failed`;
}

/** Steps one after another, stopping at the first failure. */
async function inOrder(steps: Step[]): Promise<boolean> {
  for (const step of steps) if (!await run(step)) return false;
  return true;
}

const quick = await inOrder([
  { name: "deno fmt --check", args: ["fmt", "--check"] },
  { name: "deno lint", args: ["lint"] },
]);
if (!quick) Deno.exit(1);

const jobs = Deno.env.get("DENO_JOBS") ?? "3";
console.log(
  `\nRunning at once: deno check --doc, deno test (${jobs} jobs), doc lint + publish dry run...`,
);
const results = await Promise.all([
  run({ name: "deno check --doc .", args: ["check", "--doc", "."] }),
  run({
    name: "deno test",
    args: ["test", "-A", "--no-check", "--parallel", ...Deno.args],
    env: { DENO_JOBS: jobs },
  }),
  inOrder([
    { name: "doc lint", args: ["run", "-A", "scripts/doc_lint.ts"] },
    {
      name: "deno publish --dry-run",
      args: ["publish", "--dry-run", "--allow-dirty", "--no-check"],
    },
  ]),
]);

const ok = results.every(Boolean);
// The plain closing line CI reads, alone on its line.
if (testCounts) console.log(`\ntests: ${testCounts}`);
console.log(
  `\n${ok ? "All checks and tests passed" : "FAILED"} in ${seconds(performance.now() - started)}.`,
);
Deno.exit(ok ? 0 : 1);
