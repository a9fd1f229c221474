/**
 * One source file to JavaScript and declarations (private to
 * scripts/build_npm.ts), with the TypeScript compiler API and no type
 * checker: `transpileModule` for the `.js`, `transpileDeclaration` for the
 * `.d.ts` (the sources follow JSR's "no slow types" rule, which isolated
 * declaration emit needs). Then checks the output for what Node and Bun
 * cannot load: unresolved specifiers, the `Deno` global, Deno lib references.
 *
 * @module
 */

import ts from "typescript";
import { moduleSpecifiers } from "./_npm_graph.ts";
import { specifierTransformer } from "./_npm_specifiers.ts";

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

/** The two outputs of one source file. */
export interface CompiledFile {
  javascript: string;
  declarations: string;
}

/**
 * Compiles `file` (relative to `root`) with its specifiers mapped by
 * `rewrite`. Problems go to `errors`, dropped Deno references to `warnings`;
 * the output is returned either way so that all problems are reported at once.
 */
export function compileFile(
  root: string,
  file: string,
  source: string,
  rewrite: (file: string) => (specifier: string) => string,
  errors: string[],
  warnings: string[],
): CompiledFile {
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
  return { javascript, declarations };
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
