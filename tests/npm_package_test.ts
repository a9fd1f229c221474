/**
 * The npm package, end to end: builds it with scripts/build_npm.ts into a temp
 * dir, packs it with `npm pack`, and installs the tarball (once) with npm into
 * a run dir under tests/node/.tmp, next to tests/node/node_modules (gramio,
 * @deno/kv, ioredis, telegram-test-api, typescript, bun; `npm ci` from the
 * committed lock when it changed: one install shared by everything below):
 *
 * - a Node consumer project (tests/node/consumer, copied into the run dir):
 *   one TypeScript program (check-dts.mjs) compiles a bot using the package's
 *   types as `tsc` would (strict, NodeNext) and type-checks the package's .d.ts
 *   files with skipLibCheck off; then Node runs the compiled bot;
 * - `node --test` and `bun test` on the *.spec.mjs files.
 *
 * The consumer run goes alongside the Node run, then Bun runs (the e2e specs
 * wait on HTTP replies: two runtimes at once on 2 cores is noise); each test
 * below awaits its own result. npm runs with --prefer-offline, so after the
 * first install everything comes from npm's cache.
 *
 * By hand, from tests/node: `npm ci`, `npm pack ../../npm` (after
 * `deno task build:npm`), `npm install --no-save ./gramio-session-*.tgz`,
 * then `node --test *.spec.mjs` (less redis_bun) or
 * `node_modules/.bin/bun test ./memory.spec.mjs ./e2e.spec.mjs ./redis_bun.spec.mjs`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const NODE_TESTS = `${ROOT}/tests/node`;
const NPM_FLAGS = [
  "--prefer-offline",
  "--no-audit",
  "--no-fund",
  "--loglevel=error",
];
/** Spec files per runtime. KV: @deno/kv refuses Bun; redis_bun: Bun's RedisClient. */
const NODE_SPECS = ["memory.spec.mjs", "kv.spec.mjs", "e2e.spec.mjs"];
const BUN_SPECS = ["memory.spec.mjs", "e2e.spec.mjs", "redis_bun.spec.mjs"];

interface RunResult {
  ok: boolean;
  ms: number;
  /** The command line, stdout and stderr. */
  output: string;
  stdout: string;
  summary: string;
}

/** Runs a command to completion; never rejects (a failure is in the result). */
async function run(
  cmd: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number },
): Promise<RunResult> {
  const started = performance.now();
  const line = `$ (cd ${options.cwd} && ${cmd} ${args.join(" ")})`;
  try {
    const { code, stdout, stderr } = await new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", FORCE_COLOR: "0" },
      // Generous: a busy 2-core machine can take minutes for one tsc program.
      signal: AbortSignal.timeout(options.timeoutMs ?? 300_000),
    }).output();
    const decoder = new TextDecoder();
    const out = decoder.decode(stdout);
    const output = `${line}\n${out}${decoder.decode(stderr)}`;
    return {
      ok: code === 0,
      ms: performance.now() - started,
      output,
      stdout: out,
      summary: "",
    };
  } catch (error) {
    return {
      ok: false,
      ms: performance.now() - started,
      output: `${line}\n${error}`,
      stdout: "",
      summary: "",
    };
  }
}

/** Runs commands in order, stopping at the first failure; outputs concatenated. */
async function sequence(
  steps: [string, string[], { cwd: string; timeoutMs?: number }][],
): Promise<RunResult> {
  const started = performance.now();
  let output = "";
  const timings: string[] = [];
  for (const [cmd, args, options] of steps) {
    const result = await run(cmd, args, options);
    output += result.output;
    timings.push(
      `${cmd === "npm" || cmd === "node" ? `${cmd} ${args[0]}` : cmd.split("/").pop()} ${
        fmt(result.ms)
      }`,
    );
    if (!result.ok) {
      return {
        ok: false,
        ms: performance.now() - started,
        output,
        stdout: "",
        summary: timings.join(", "),
      };
    }
  }
  return {
    ok: true,
    ms: performance.now() - started,
    output,
    stdout: "",
    summary: timings.join(", "),
  };
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function must(result: RunResult, what: string): void {
  if (!result.ok) throw new Error(`${what} failed:\n${result.output}`);
}

async function sha256(...paths: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const path of paths) hash.update(await Deno.readFile(path));
  return hash.digest("hex");
}

async function copyDir(
  from: string,
  to: string,
  skip: (name: string) => boolean,
): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (skip(entry.name)) continue;
    if (entry.isDirectory) {
      await copyDir(`${from}/${entry.name}`, `${to}/${entry.name}`, skip);
    } else if (entry.isFile) {
      await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  }
}

/** Run dirs left by a killed run (a live run finishes within minutes). */
async function removeStaleRunDirs(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || !entry.name.startsWith("run-")) continue;
    const path = `${dir}/${entry.name}`;
    const { mtime } = await Deno.stat(path);
    if (mtime && Date.now() - mtime.getTime() > 60 * 60_000) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}

interface Setup {
  temp: string;
  packageDir: string;
  tarball: string;
  packedFiles: string[];
  timings: string[];
}

let setupPromise: Promise<Setup> | undefined;
/** Build, pack, and make sure tests/node/node_modules matches its lock. Once per run. */
function setup(): Promise<Setup> {
  return setupPromise ??= (async () => {
    const temp = await Deno.makeTempDir({ prefix: "gramio-session-npm-" });
    const packageDir = `${temp}/package`;
    const timings: string[] = [];

    // npm ci (network on a fresh clone) and build + pack do not depend on
    // each other: side by side.
    const [tarball, packedFiles] = await Promise.all([
      buildAndPack(temp, packageDir, timings),
      installNodeTests(timings),
    ]).then(([packed]) => packed);
    return {
      temp,
      packageDir,
      tarball,
      packedFiles,
      timings,
    };
  })();
}

/** Builds the package into `packageDir` and packs it into `temp`: the tarball and its files. */
async function buildAndPack(
  temp: string,
  packageDir: string,
  timings: string[],
): Promise<[string, string[]]> {
  const build = await run(Deno.execPath(), [
    "run",
    "-A",
    "scripts/build_npm.ts",
    "--out",
    packageDir,
  ], { cwd: ROOT });
  must(build, "scripts/build_npm.ts");
  timings.push(`build ${fmt(build.ms)}`);

  const pack = await run("npm", ["pack", "--json", "--pack-destination", temp, ...NPM_FLAGS], {
    cwd: packageDir,
  });
  must(pack, "npm pack");
  timings.push(`pack ${fmt(pack.ms)}`);
  const packed = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = `${temp}/${packed[0].filename.replace(/^@/, "").replace("/", "-")}`;
  await Deno.stat(tarball);
  return [tarball, packed[0].files.map((file) => file.path).sort()];
}

/** tests/node/node_modules: (re)installed with `npm ci` only when package(-lock).json changed. */
async function installNodeTests(timings: string[]): Promise<void> {
  const stampFile = `${NODE_TESTS}/node_modules/.gramio-session-stamp`;
  const stamp = await sha256(`${NODE_TESTS}/package.json`, `${NODE_TESTS}/package-lock.json`);
  const installed = await Deno.readTextFile(stampFile).catch(() => "");
  if (installed === stamp) return;
  const ci = await run("npm", ["ci", ...NPM_FLAGS], { cwd: NODE_TESTS, timeoutMs: 300_000 });
  must(ci, "npm ci in tests/node");
  await Deno.writeTextFile(stampFile, stamp);
  timings.push(`npm ci (tests/node) ${fmt(ci.ms)}`);
}

interface Runs {
  node: Promise<RunResult>;
  bun: Promise<RunResult>;
  consumer: Promise<RunResult>;
}

let runsPromise: Promise<Runs> | undefined;
/** Starts the Node, Bun and consumer runs together, once. */
function runs(): Promise<Runs> {
  return runsPromise ??= (async () => {
    const { tarball } = await setup();

    // A run dir inside tests/node resolves gramio, @deno/kv, telegram-test-api
    // and bun from tests/node/node_modules; the package (and its own
    // dependencies) is npm-installed into the run dir, so concurrent runs
    // never touch each other's copy. Peers come from the parent.
    await Deno.mkdir(`${NODE_TESTS}/.tmp`, { recursive: true });
    await removeStaleRunDirs(`${NODE_TESTS}/.tmp`);
    const runDir = await Deno.makeTempDir({
      dir: `${NODE_TESTS}/.tmp`,
      prefix: "run-",
    });
    await copyDir(
      NODE_TESTS,
      runDir,
      (name) =>
        [
          "node_modules",
          ".tmp",
          "consumer",
          "package.json",
          "package-lock.json",
        ].includes(name),
    );
    await Deno.writeTextFile(
      `${runDir}/package.json`,
      JSON.stringify({ private: true, type: "module" }),
    );
    const installed = run("npm", [
      "install",
      "--omit=peer",
      "--no-package-lock",
      ...NPM_FLAGS,
      tarball,
    ], {
      cwd: runDir,
    });
    const bun = `${NODE_TESTS}/node_modules/.bin/bun`;
    const node = installed.then(async (install) => {
      if (!install.ok) return install;
      const result = await run("node", [
        "--test",
        "--test-reporter=spec",
        ...NODE_SPECS,
      ], {
        cwd: runDir,
      });
      return {
        ...result,
        summary: `npm install ${fmt(install.ms)}, node --test ${fmt(result.ms)}`,
      };
    });
    // One runtime at a time on a 2-core machine: the e2e tests time replies.
    const bunRun = node.then(async (nodeResult) => {
      const install = await installed;
      if (!install.ok) return install;
      const result = await run(bun, [
        "test",
        ...BUN_SPECS.map((spec) => `./${spec}`),
      ], {
        cwd: runDir,
      });
      return {
        ...result,
        summary: `bun test ${fmt(result.ms)}${nodeResult.ok ? "" : " (after a failed Node run)"}`,
      };
    });
    // The consumer project resolves the package from the run dir and its
    // other dependencies (typescript too) from tests/node/node_modules.
    const consumerDir = `${runDir}/consumer`;
    await copyDir(
      `${NODE_TESTS}/consumer`,
      consumerDir,
      (name) => ["node_modules", "dist"].includes(name),
    );
    const consumer = installed.then((install) =>
      install.ok
        ? sequence([
          ["node", ["check-dts.mjs"], { cwd: consumerDir }],
          ["node", ["dist/main.js"], { cwd: consumerDir }],
        ])
        : install
    );
    const cleanup = Promise.allSettled([node, bunRun, consumer]).then(() =>
      Deno.remove(runDir, { recursive: true })
    );
    return {
      node: node.finally(() => cleanup),
      bun: bunRun.finally(() => cleanup),
      consumer: consumer.finally(() => cleanup),
    };
  })();
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "npm package: builds and packs what package.json promises",
  options,
  async () => {
    const { packageDir, packedFiles, timings } = await setup();
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
    const pkg = JSON.parse(
      await Deno.readTextFile(`${packageDir}/package.json`),
    );

    assert.equal(pkg.name, "@gramio/session");
    assert.equal(pkg.version, config.version);
    assert.equal(pkg.type, "module");
    assert.equal(pkg.sideEffects, false);
    assert.equal(pkg.license, "MIT");
    assert.equal(pkg.engines.node, ">=20");
    assert.equal(
      pkg.peerDependencies.gramio,
      config.imports.gramio.replace(/^npm:gramio@/, ""),
    );
    // Every entry of deno.json exports, with types and import conditions that exist in the tarball.
    assert.deepEqual(
      Object.keys(pkg.exports).filter((key) => key !== "./package.json").sort(),
      Object.keys(config.exports).sort(),
    );
    for (
      const [name, target] of Object.entries(
        pkg.exports as Record<string, { types: string; import: string }>,
      )
    ) {
      if (name === "./package.json") continue;
      assert.ok(
        packedFiles.includes(target.types.slice(2)),
        `${name} types ${target.types} packed`,
      );
      assert.ok(
        packedFiles.includes(target.import.slice(2)),
        `${name} import ${target.import} packed`,
      );
    }
    assert.ok(
      packedFiles.every((file) => /\.(js|d\.ts|json|md)$|^LICENSE$/.test(file)),
      packedFiles.join(", "),
    );

    // Every bare import of the JavaScript is a declared dependency or peer; no Deno leftovers.
    const declared = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    for (
      const file of packedFiles.filter((file) => /\.(js|d\.ts)$/.test(file))
    ) {
      const text = await Deno.readTextFile(`${packageDir}/${file}`);
      // Code lines only: JSDoc examples (" * import ...") import the package itself.
      const code = text.split("\n").filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n");
      for (
        const [, specifier] of code.matchAll(
          /(?:^|[\s}(=,])(?:from|import)\s*\(?\s*"([^"]+)"/gm,
        )
      ) {
        if (specifier.startsWith(".")) {
          assert.match(specifier, /\.js$/, `${file}: ${specifier}`);
          continue;
        }
        if (specifier.startsWith("node:")) continue;
        const name = specifier.startsWith("@")
          ? specifier.split("/").slice(0, 2).join("/")
          : specifier.split("/")[0];
        assert.ok(
          declared.has(name),
          `${file} imports ${specifier}, which package.json does not declare`,
        );
      }
      assert.doesNotMatch(text, /^\/\/\/\s*<reference\s+lib="deno/m, file);
    }
    for (const name of ["README.md", "LICENSE"]) {
      let present = true;
      await Deno.stat(`${ROOT}/${name}`).catch(() => present = false);
      assert.equal(
        packedFiles.includes(name),
        present,
        `${name} shipped iff present in the repo`,
      );
    }
    console.log(`  ${timings.join(", ")}; ${packedFiles.length} files packed`);
  },
);

Deno.test(
  "npm package: a Node TypeScript project compiles against it (strict, NodeNext) and runs it",
  options,
  async () => {
    const result = await (await runs()).consumer;
    must(result, "the consumer project");
    console.log(`  ${result.summary}`);
    console.log(
      result.output.split("\n").filter((line) => /^(consumer|check-dts):/.test(line)).map((l) =>
        `  ${l}`
      ).join("\n"),
    );
  },
);

Deno.test(
  "npm package: node --test (in-memory, Deno KV via @deno/kv, e2e long polling)",
  options,
  async () => {
    const result = await (await runs()).node;
    must(result, "node --test");
    const counts = result.output.split("\n").filter((line) =>
      /^ℹ (tests|pass|fail|skipped) /.test(line)
    );
    console.log(
      `  ${result.summary}; ${counts.map((line) => line.slice(2)).join(", ")}`,
    );
  },
);

Deno.test(
  "npm package: bun test (in-memory, e2e long polling, Bun RedisClient)",
  options,
  async () => {
    const result = await (await runs()).bun;
    must(result, "bun test");
    const skipped = result.output.split("\n").filter((line) => line.includes("SKIPPING"));
    for (const line of skipped) console.warn(`  ${line.trim()}`);
    const counts = result.output.split("\n").filter((line) =>
      /^\s*\d+ (pass|skip|fail)$/.test(line)
    );
    console.log(
      `  ${result.summary}; ${counts.map((line) => line.trim()).join(", ")}`,
    );
  },
);

Deno.test("npm package: clean up", options, async () => {
  if (!setupPromise) return;
  const { temp } = await setupPromise.catch(() => ({ temp: undefined }));
  if (runsPromise) {
    const all = await runsPromise.catch(() => undefined);
    if (all) await Promise.allSettled([all.node, all.bun, all.consumer]);
  }
  if (temp) await Deno.remove(temp, { recursive: true });
});
