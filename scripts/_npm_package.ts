/**
 * The npm package around the compiled files (private to
 * scripts/build_npm.ts): the guarded emptying of the output directory, the
 * package.json (exports, `typesVersions`, dependencies with `gramio` as a
 * peer) and the README.md and LICENSE copies.
 *
 * @module
 */

import { type DenoConfig, type ExportEntry, fail } from "./_npm_graph.ts";
import type { NpmDependency } from "./_npm_specifiers.ts";

/** Packages the user installs next to this one (their types show in ours). */
const PEER_DEPENDENCIES = new Set(["gramio"]);
const PACKAGE_NAME = "@gramio/session";
const DESCRIPTION = "Sessions for GramIO Telegram bots: Deno KV, Redis or in-memory storage, " +
  "lazy loading, change detection, per-user locks and compare-and-set writes.";
const KEYWORDS = [
  "gramio",
  "gramio-plugin",
  "telegram",
  "telegram-bot",
  "bot",
  "session",
  "deno-kv",
  "redis",
  "bun",
  "deno",
];

/**
 * Empties `outDir` for a new build, but only when it is missing, empty or an
 * earlier build (its package.json names this package): a mistyped `--out`
 * must never delete anything else.
 */
export async function emptyOutDir(outDir: string, root: string): Promise<void> {
  if (root === outDir || root.startsWith(`${outDir.replace(/\/$/, "")}/`)) {
    fail(`refusing to empty ${outDir}: it holds the project`);
  }
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(outDir)) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (names.length === 0) return;
  const previous = await Deno.readTextFile(`${outDir}/package.json`).then(
    (text) => (JSON.parse(text) as { name?: string }).name,
    () => undefined,
  );
  if (previous !== PACKAGE_NAME) {
    fail(`refusing to empty ${outDir}: it is not an earlier build of ${PACKAGE_NAME}`);
  }
  await Deno.remove(outDir, { recursive: true });
}

/**
 * Copies README.md and LICENSE from `root` and writes `outDir/package.json`
 * for the compiled `entries` (under `esm/`); returns the package.json.
 */
export async function writePackage(
  root: string,
  outDir: string,
  config: DenoConfig,
  entries: ExportEntry[],
  dependencies: Iterable<NpmDependency>,
  warnings: string[],
): Promise<Record<string, unknown>> {
  const exportsMap: Record<string, { types: string; import: string }> = {};
  for (const entry of entries) {
    const base = `./esm/${entry.source.replace(/\.ts$/, "")}`;
    exportsMap[entry.name] = { types: `${base}.d.ts`, import: `${base}.js` };
  }
  const main = exportsMap["."];
  // TypeScript's old `moduleResolution: "node"` ignores `exports`: map the
  // subpaths' types for it too.
  const subpathTypes: Record<string, string[]> = {};
  for (const [name, target] of Object.entries(exportsMap)) {
    if (name !== ".") subpathTypes[name.slice(2)] = [target.types];
  }

  const peers: Record<string, string> = {};
  const deps: Record<string, string> = {};
  for (
    const dependency of [...dependencies].sort((a, b) => a.name.localeCompare(b.name))
  ) {
    (PEER_DEPENDENCIES.has(dependency.name) ? peers : deps)[dependency.name] = dependency.range;
  }

  const extras = await copyExtras(root, outDir, warnings);

  const packageJson: Record<string, unknown> = {
    name: PACKAGE_NAME,
    version: config.version ?? fail("deno.json has no version"),
    description: config.description ?? DESCRIPTION,
    keywords: KEYWORDS,
    license: config.license ?? "MIT",
    type: "module",
    sideEffects: false,
    ...(main ? { types: main.types, module: main.import } : {}),
    exports: { ...exportsMap, "./package.json": "./package.json" },
    ...(Object.keys(subpathTypes).length > 0 ? { typesVersions: { "*": subpathTypes } } : {}),
    files: ["esm", ...extras],
    engines: { node: ">=20" },
    ...(Object.keys(deps).length > 0 ? { dependencies: deps } : {}),
    ...(Object.keys(peers).length > 0 ? { peerDependencies: peers } : {}),
  };
  if (config.name && config.name !== PACKAGE_NAME) {
    warnings.push(
      `deno.json name ${config.name} differs from the npm name ${PACKAGE_NAME}`,
    );
  }
  await Deno.writeTextFile(
    `${outDir}/package.json`,
    JSON.stringify(packageJson, null, 2) + "\n",
  );
  return packageJson;
}

/** Copies README.md and LICENSE into the package; returns the names copied (a missing one warns). */
async function copyExtras(root: string, outDir: string, warnings: string[]): Promise<string[]> {
  const extras: string[] = [];
  for (const name of ["README.md", "LICENSE"]) {
    try {
      await Deno.copyFile(`${root}/${name}`, `${outDir}/${name}`);
      extras.push(name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      warnings.push(`${name} is missing: the npm package ships without it`);
    }
  }
  return extras;
}
