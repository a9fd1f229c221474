/**
 * Which files the npm package ships (private to scripts/build_npm.ts): the
 * entries of deno.json `exports` and every file they reach through relative
 * imports, read once. Also the path helpers and the build's error, which the
 * other `_npm_*` files share.
 *
 * @module
 */

import ts from "typescript";

/** The fields of deno.json the build reads. */
export interface DenoConfig {
  name?: string;
  version?: string;
  license?: string;
  description?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
}

/** One entry of deno.json `exports`: `{ name: "./redis", source: "redis.ts" }`. */
export interface ExportEntry {
  name: string;
  source: string;
}

/** deno.json `exports` as `{ name: "./redis", source: "redis.ts" }` pairs. */
export function exportEntries(config: DenoConfig): ExportEntry[] {
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

/**
 * Walks the import graph from the entries; only reachable files are shipped.
 * Returns relative path -> source; a relative import without `.ts` goes to
 * `errors`.
 */
export async function moduleGraph(
  root: string,
  entries: ExportEntry[],
  errors: string[],
): Promise<Map<string, string>> {
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
  return sources;
}

/** Every module specifier of a file: static, type-only, re-exports, dynamic `import("x")`, `import type("x")`. */
export function moduleSpecifiers(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((file) => file.fileName);
}

/** `a/b/c.ts` -> `a/b`; `c.ts` -> `.`. */
export function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash) || "/";
}

/** `./a/../b.ts` -> `b.ts` (relative paths without a leading `./`). */
export function normalize(path: string): string {
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

/** Stops the build with `npm build failed: <message>`. */
export function fail(message: string): never {
  throw new Error(`npm build failed: ${message}`);
}
