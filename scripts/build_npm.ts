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
 * @module
 */

import ts from "typescript";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

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

interface DenoConfig {
  name?: string;
  version?: string;
  license?: string;
  description?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
}

/** An npm package the output imports, with the range from the import map. */
interface NpmDependency {
  name: string;
  range: string;
}

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

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, // Node 20 runs ES2023; newer syntax is lowered
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  verbatimModuleSyntax: true,
  strict: true,
  removeComments: false,
  newLine: ts.NewLineKind.LineFeed,
};
/** transpileDeclaration turns declarations on; isolated ones report what it cannot emit alone. */
const DECLARATION_OPTIONS: ts.CompilerOptions = {
  ...COMPILER_OPTIONS,
  declaration: true,
  isolatedDeclarations: true,
};

/**
 * Builds the npm package and returns what it wrote; throws when the sources
 * cannot be turned into a clean Node package.
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
  const imports = config.imports ?? {};
  const entries = exportEntries(config);
  const warnings: string[] = [];
  const errors: string[] = [];

  // Walk the import graph from the entries; only reachable files are shipped.
  const sources = new Map<string, string>(); // relative path -> source
  const queue = entries.map((entry) => entry.source);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (sources.has(file)) continue;
    const text = await Deno.readTextFile(`${root}/${file}`);
    sources.set(file, text);
    for (const specifier of moduleSpecifiers(text)) {
      if (specifier.startsWith("./") || specifier.startsWith("../")) {
        if (!specifier.endsWith(".ts")) {
          errors.push(
            `${file}: relative import "${specifier}" must end in .ts`,
          );
        }
        queue.push(normalize(`${dirname(file)}/${specifier}`));
      }
    }
  }

  const dependencies = new Map<string, NpmDependency>();
  const resolveBare = (file: string, specifier: string): string => {
    if (specifier.startsWith("node:")) return specifier;
    const mapped = mapImport(imports, specifier);
    const target = mapped ?? specifier;
    const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(
      target,
    );
    if (npm) {
      const [, name, range, subpath = ""] = npm;
      const known = dependencies.get(name);
      const wanted = range ?? "*";
      if (known && known.range !== wanted) {
        errors.push(
          `${file}: npm package ${name} is imported with ranges ${known.range} and ${wanted}`,
        );
      }
      dependencies.set(name, { name, range: wanted });
      return name + subpath;
    }
    errors.push(
      `${file}: cannot map import "${specifier}"${
        mapped ? ` (import map: ${mapped})` : ""
      } to an npm package` +
        " (only npm: and node: imports can be published to npm)",
    );
    return specifier;
  };
  const rewrite = (file: string) => (specifier: string): string => {
    if (specifier.startsWith("./") || specifier.startsWith("../")) {
      return specifier.replace(/\.ts$/, ".js");
    }
    return resolveBare(file, specifier);
  };

  await emptyOutDir(outDir, root);

  const files = [...sources.keys()].sort();
  for (const file of files) {
    const source = sources.get(file)!;
    const fileName = `${root}/${file}`;

    const js = ts.transpileModule(source, {
      compilerOptions: COMPILER_OPTIONS,
      fileName,
      reportDiagnostics: true,
      transformers: { before: [specifierTransformer(rewrite(file))] },
    });
    const dts = ts.transpileDeclaration(source, {
      compilerOptions: DECLARATION_OPTIONS,
      fileName,
      reportDiagnostics: true,
      transformers: {
        afterDeclarations: [specifierTransformer(rewrite(file))],
      },
    });
    for (
      const diagnostic of [
        ...(js.diagnostics ?? []),
        ...(dts.diagnostics ?? []),
      ]
    ) {
      errors.push(formatDiagnostic(diagnostic));
    }

    // rewriteRelativeImportExtensions is JS-only: the transformer rewrote the
    // .d.ts specifiers; checkOutput makes sure none was missed.
    const declarations = stripDenoLibReferences(
      dts.outputText,
      `${file} (.d.ts)`,
      warnings,
    );
    const javascript = stripDenoLibReferences(
      js.outputText,
      `${file} (.js)`,
      warnings,
    );
    errors.push(
      ...checkOutput(file, declarations, true),
      ...checkOutput(file, javascript, false),
    );

    const base = `${outDir}/esm/${file.replace(/\.ts$/, "")}`;
    await Deno.mkdir(dirname(base), { recursive: true });
    await Deno.writeTextFile(`${base}.js`, javascript);
    await Deno.writeTextFile(`${base}.d.ts`, declarations);
  }

  if (errors.length > 0) {
    throw new Error(`npm build failed:\n  ${errors.join("\n  ")}`);
  }

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
    const dependency of [...dependencies.values()].sort((a, b) => a.name.localeCompare(b.name))
  ) {
    (PEER_DEPENDENCIES.has(dependency.name) ? peers : deps)[dependency.name] = dependency.range;
  }

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

  for (const warning of warnings) {
    console.warn(`build_npm: warning: ${warning}`);
  }
  return { outDir, packageJson, files, warnings };
}

/**
 * Empties `outDir` for a new build, but only when it is missing, empty or an
 * earlier build (its package.json names this package): a mistyped `--out`
 * must never delete anything else.
 */
async function emptyOutDir(outDir: string, root: string): Promise<void> {
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

/** deno.json `exports` as `{ name: "./redis", source: "redis.ts" }` pairs. */
function exportEntries(config: DenoConfig): { name: string; source: string }[] {
  const exports = typeof config.exports === "string" ? { ".": config.exports } : config.exports;
  if (!exports || Object.keys(exports).length === 0) {
    fail("deno.json has no exports");
  }
  return Object.entries(exports).map(([name, path]) => {
    if (!path.endsWith(".ts")) {
      fail(`deno.json export ${name} (${path}) is not a .ts file`);
    }
    return { name, source: normalize(path) };
  });
}

/** The import map's target for `specifier` (exact key, or the longest `key/` prefix). */
function mapImport(
  imports: Record<string, string>,
  specifier: string,
): string | undefined {
  if (imports[specifier] !== undefined) return imports[specifier];
  let best: string | undefined;
  for (const key of Object.keys(imports)) {
    if (
      key.endsWith("/") && specifier.startsWith(key) &&
      (!best || key.length > best.length)
    ) best = key;
  }
  if (best) return imports[best] + specifier.slice(best.length);
  // Deno maps "name/sub" through a "name" entry of an npm: package.
  const slash = specifier.startsWith("@")
    ? specifier.indexOf("/", specifier.indexOf("/") + 1)
    : specifier.indexOf("/");
  if (slash > 0) {
    const target = imports[specifier.slice(0, slash)];
    if (target?.startsWith("npm:")) return target + specifier.slice(slash);
  }
  return undefined;
}

/** Every module specifier of a file: static, type-only, re-exports, dynamic `import("x")`, `import type("x")`. */
function moduleSpecifiers(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((file) => file.fileName);
}

/** A transformer that rewrites the string of every module specifier with `map`. */
function specifierTransformer<T extends ts.SourceFile | ts.Bundle>(
  map: (specifier: string) => string,
): ts.TransformerFactory<T> {
  return (context) => (root) => {
    const { factory } = context;
    const literal = (node: ts.Expression): ts.StringLiteral | undefined => {
      if (!ts.isStringLiteral(node)) return undefined;
      const mapped = map(node.text);
      return mapped === node.text ? undefined : factory.createStringLiteral(mapped);
    };
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node)) {
        const specifier = literal(node.moduleSpecifier);
        if (specifier) {
          return factory.updateImportDeclaration(
            node,
            node.modifiers,
            node.importClause,
            specifier,
            node.attributes,
          );
        }
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
        const specifier = literal(node.moduleSpecifier);
        if (specifier) {
          return factory.updateExportDeclaration(
            node,
            node.modifiers,
            node.isTypeOnly,
            node.exportClause,
            specifier,
            node.attributes,
          );
        }
      } else if (
        ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        const specifier = literal(node.argument.literal);
        if (specifier) {
          return factory.updateImportTypeNode(
            node,
            factory.updateLiteralTypeNode(node.argument, specifier),
            node.attributes,
            node.qualifier,
            node.typeArguments?.map((type) => ts.visitNode(type, visit, ts.isTypeNode)!),
            node.isTypeOf,
          );
        }
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments.length >= 1
      ) {
        const specifier = literal(node.arguments[0]);
        if (specifier) {
          return factory.updateCallExpression(
            node,
            node.expression,
            node.typeArguments,
            [
              specifier,
              ...node.arguments.slice(1).map((argument) =>
                ts.visitNode(argument, visit, ts.isExpression)!
              ),
            ],
          );
        }
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitEachChild(root, visit, context);
  };
}

/** Drops `/// <reference lib="deno.*" />` (and `types` references to Deno), which a Node consumer cannot resolve. */
function stripDenoLibReferences(
  text: string,
  file: string,
  warnings: string[],
): string {
  return text.replace(
    /^\/\/\/\s*<reference\s+(?:lib|types)="([^"]*)"\s*\/>\s*\n/gm,
    (line, name: string) => {
      if (!/deno/i.test(name)) return line;
      warnings.push(`${file}: dropped ${line.trim()}`);
      return "";
    },
  );
}

/**
 * Problems of one output file: module specifiers that still point at `.ts`,
 * `npm:`, `jsr:` or URLs, and references to the `Deno` global (a free
 * identifier or `Deno.X` type), which Node and Bun do not have. Comments are
 * not nodes, so JSDoc that mentions `Deno.openKv()` is fine.
 */
function checkOutput(
  file: string,
  text: string,
  declaration: boolean,
): string[] {
  const kind = declaration ? ".d.ts" : ".js";
  const problems: string[] = [];
  const source = ts.createSourceFile(
    `x${kind}`,
    text,
    ts.ScriptTarget.Latest,
    true,
  );
  for (const specifier of moduleSpecifiers(text)) {
    if (/^(npm|jsr|https?|file):|\.tsx?$/.test(specifier)) {
      problems.push(
        `${file} (${kind}): unresolved module specifier "${specifier}"`,
      );
    }
  }
  const visit = (node: ts.Node): void => {
    if (
      ts.isIdentifier(node) && node.text === "Deno" && !isPropertyName(node)
    ) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      problems.push(
        `${file} (${kind}:${line + 1}): references the Deno global ("${
          node.parent.getText().slice(0, 60)
        }"); look it up through globalThis at run time and type it structurally`,
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  for (
    const match of text.matchAll(
      /<reference\s+(?:lib|types)="([^"]*deno[^"]*)"/gi,
    )
  ) {
    problems.push(`${file} (${kind}): keeps a reference to ${match[1]}`);
  }
  return problems;
}

/** `x.Deno`, `{ Deno: ... }`, `interface { Deno?: ... }`: a property name, not the global. */
function isPropertyName(node: ts.Identifier): boolean {
  const parent = node.parent;
  return (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
    (ts.isQualifiedName(parent) && parent.right === node) ||
    ((ts.isPropertySignature(parent) || ts.isPropertyDeclaration(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isMethodSignature(parent) || ts.isMethodDeclaration(parent) ||
      ts.isGetAccessor(parent) ||
      ts.isSetAccessor(parent) || ts.isBindingElement(parent)) &&
      parent.name === node);
}

function formatDiagnostic(diagnostic: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
  if (!diagnostic.file || diagnostic.start === undefined) {
    return `TS${diagnostic.code}: ${message}`;
  }
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(
    diagnostic.start,
  );
  return `${diagnostic.file.fileName}:${line + 1}:${
    character + 1
  }: TS${diagnostic.code}: ${message}`;
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash) || "/";
}

/** `./a/../b.ts` -> `b.ts` (relative paths without a leading `./`). */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) fail(`path ${path} leaves the project`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

function fail(message: string): never {
  throw new Error(`npm build failed: ${message}`);
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
