/**
 * Module specifiers for npm (private to scripts/build_npm.ts): `./x.ts` to
 * `./x.js`, `npm:name@range/sub` to `name/sub`, import-map names to their npm
 * name; `node:` stays. Records each npm package the output imports, with the
 * import map's range, and rewrites the specifiers in the compiled output with
 * a TypeScript transformer.
 *
 * @module
 */

import ts from "typescript";

/** An npm package the output imports, with the range from the import map. */
export interface NpmDependency {
  name: string;
  range: string;
}

/** Rewrites specifiers for npm and collects the npm packages they name. */
export interface SpecifierRewriter {
  /** The npm packages imported so far, by name. */
  dependencies: Map<string, NpmDependency>;
  /** The specifier map for the output of `file` (relative path, for error messages). */
  rewrite(file: string): (specifier: string) => string;
}

/**
 * A rewriter that maps bare specifiers through `imports` (deno.json's import
 * map); what cannot be published to npm (`jsr:`, URLs, two ranges of one
 * package) goes to `errors`.
 */
export function specifierRewriter(
  imports: Record<string, string>,
  errors: string[],
): SpecifierRewriter {
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
  return { dependencies, rewrite };
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

/** A transformer that rewrites the string of every module specifier with `map`. */
export function specifierTransformer<T extends ts.SourceFile | ts.Bundle>(
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
