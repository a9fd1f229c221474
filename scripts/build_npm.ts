/**
 * Builds the npm package of `@gramio/session` into `npm/` (gitignored):
 * ESM JavaScript and `.d.ts` files for every entry of deno.json `exports`,
 * plus a package.json, README.md and LICENSE.
 *
 * ```sh
 * deno task build:npm            # deno run -A scripts/build_npm.ts
 * deno run -A scripts/build_npm.ts --out /tmp/pkg
 * ```
 *
 * dnt is JSR-only (unreachable here), so this uses the TypeScript compiler
 * API one file at a time: `transpileModule` for the JavaScript and
 * `transpileDeclaration` for the types. The sources follow JSR's "no slow
 * types" rule (explicit types on every export), which is what isolated
 * declaration emit needs, so no type checker and no node_modules are required
 * here; `deno check` type-checks the sources, and tests/npm_package_test.ts
 * type-checks the output with tsc in a Node project against real npm packages.
 *
 * Module specifiers are rewritten in both outputs: `./x.ts` to `./x.js`,
 * `npm:name@range/sub` to `name/sub`, import-map names to their npm name;
 * `node:` stays. Each npm package the output imports becomes a dependency
 * with the import map's range, `gramio` a peer dependency. The build fails on
 * `jsr:`/`https:` imports, on a `Deno` global referenced by the output (only
 * `globalThis.Deno` lookups are allowed), and on Deno lib references.
 *
 * This file runs the steps in order; each job has a private file next to it:
 * `_npm_graph.ts` (which files ship), `_npm_specifiers.ts` (specifier
 * rewriting, npm dependencies), `_npm_compile.ts` (one file to `.js` and
 * `.d.ts`, output checks), `_npm_package.ts` (the guarded output directory,
 * package.json, README.md and LICENSE).
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { compileFile } from "./_npm_compile.ts";
import { type DenoConfig, dirname, exportEntries, moduleGraph } from "./_npm_graph.ts";
import { emptyOutDir, writePackage } from "./_npm_package.ts";
import { specifierRewriter } from "./_npm_specifiers.ts";

/** What {@linkcode buildNpm} produced. */
export interface BuildResult {
  /** Absolute path of the package directory. */
  outDir: string;
  /** The written package.json. */
  packageJson: Record<string, unknown>;
  /** Source files compiled, relative to the project root. */
  files: string[];
  /** Warnings (missing README/LICENSE...), also printed. */
  warnings: string[];
}

/** Options of {@linkcode buildNpm}. */
export interface BuildOptions {
  /** Project root (holds deno.json). Default: the parent of this script's folder. */
  root?: string;
  /** Output directory, emptied first. Default: `<root>/npm`. */
  outDir?: string;
}

/**
 * Builds the npm package and returns what it wrote; throws when the sources
 * cannot be turned into a clean Node package. Problems of all files are
 * collected first and reported together.
 *
 * @example
 * ```ts
 * const { outDir } = await buildNpm({ outDir: "/tmp/gramio-session-npm" });
 * ```
 */
export async function buildNpm(
  options: BuildOptions = {},
): Promise<BuildResult> {
  const root = resolve(options.root ?? new URL("..", import.meta.url).pathname);
  const outDir = resolve(options.outDir ?? `${root}/npm`);
  const config = JSON.parse(
    await Deno.readTextFile(`${root}/deno.json`),
  ) as DenoConfig;
  const entries = exportEntries(config);
  const warnings: string[] = [];
  const errors: string[] = [];

  const sources = await moduleGraph(root, entries, errors);
  const specifiers = specifierRewriter(config.imports ?? {}, errors);

  await emptyOutDir(outDir, root);

  const files = [...sources.keys()].sort();
  for (const file of files) {
    const { javascript, declarations } = compileFile(
      root,
      file,
      sources.get(file)!,
      specifiers.rewrite,
      errors,
      warnings,
    );
    const base = `${outDir}/esm/${file.replace(/\.ts$/, "")}`;
    await Deno.mkdir(dirname(base), { recursive: true });
    await Deno.writeTextFile(`${base}.js`, javascript);
    await Deno.writeTextFile(`${base}.d.ts`, declarations);
  }

  if (errors.length > 0) {
    throw new Error(`npm build failed:\n  ${errors.join("\n  ")}`);
  }

  const packageJson = await writePackage(
    root,
    outDir,
    config,
    entries,
    specifiers.dependencies.values(),
    warnings,
  );

  for (const warning of warnings) {
    console.warn(`build_npm: warning: ${warning}`);
  }
  return { outDir, packageJson, files, warnings };
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" } },
  });
  const started = performance.now();
  try {
    const result = await buildNpm({ outDir: args.values.out });
    const pkg = result.packageJson;
    console.log(
      `build_npm: ${pkg.name}@${pkg.version} -> ${result.outDir} ` +
        `(${result.files.length} modules, ${Math.round(performance.now() - started)} ms)`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(1);
  }
}
