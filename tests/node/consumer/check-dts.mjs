// One TypeScript program does what `tsc` and a strict .d.ts check would do
// in two: it compiles this project (strict, NodeNext, Node types, no Deno
// types; tsconfig.json) to dist/, and type-checks every .d.ts file of the
// installed @gramio/session with skipLibCheck off. tsconfig.json skips lib
// checks because gramio 0.10's own .d.ts files do not pass them, so here only
// errors in this project's sources and in our package count. skipLibCheck
// changes nothing for .ts sources, so their diagnostics are exactly tsc's.
import process from "node:process";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";

const require = createRequire(join(process.cwd(), "package.json"));
const packageDir = dirname(require.resolve("@gramio/session/package.json"));
const declarations = readdirSync(packageDir, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".d.ts"))
  .map((file) => join(packageDir, file));

const configFile = ts.readConfigFile("tsconfig.json", ts.sys.readFile);
const { options, fileNames } = ts.parseJsonConfigFileContent(
  configFile.config,
  ts.sys,
  process.cwd(),
);
const program = ts.createProgram([...fileNames, ...declarations], {
  ...options,
  skipLibCheck: false,
});
// Diagnostics of the files that count only: asking for every file's would
// type-check all of gramio's declarations too, the bulk of the work.
const diagnostics = [
  ...program.getConfigFileParsingDiagnostics(),
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...[...fileNames, ...declarations].flatMap((file) => {
    const source = program.getSourceFile(resolve(file));
    if (!source) throw new Error(`check-dts: ${file} is not in the program`);
    return [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
  }),
];

if (diagnostics.length > 0) {
  console.error(ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => "\n",
  }));
  process.exit(1);
}
// A .d.ts that names the Deno namespace or Deno's lib would fail above
// (no Deno types here); check the resolved libs too.
const libs = program.getSourceFiles().map((file) => file.fileName).filter((
  name,
) => /lib\.deno[^/]*\.d\.ts$/i.test(name));
if (libs.length > 0) {
  console.error(`check-dts: Deno type files were loaded: ${libs.join(", ")}`);
  process.exit(1);
}
// Emit only this project's sources (not the package's .d.ts roots).
for (const file of fileNames) {
  const emitted = program.emit(program.getSourceFile(resolve(file)));
  if (emitted.emitSkipped) {
    console.error(`check-dts: ${file} was not emitted`);
    process.exit(1);
  }
}
console.log(
  `check-dts: ${fileNames.length} source file(s) compiled (tsc, strict, NodeNext), and ` +
    `${declarations.length} .d.ts files of @gramio/session type-check with skipLibCheck off`,
);
