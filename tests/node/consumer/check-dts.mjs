// Type-checks every .d.ts file of the installed @gramio/session with
// skipLibCheck off, in this project's settings (strict, NodeNext, Node types,
// no Deno types). tsconfig.json has to skip lib checks because gramio 0.10's
// own .d.ts files do not pass them; here only our package's errors count.
import process from "node:process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve("@gramio/session/package.json"));
const files = readdirSync(packageDir, { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".d.ts"))
  .map((file) => join(packageDir, file));

const configFile = ts.readConfigFile("tsconfig.json", ts.sys.readFile);
const { options } = ts.parseJsonConfigFileContent(
  configFile.config,
  ts.sys,
  process.cwd(),
);
const program = ts.createProgram(files, {
  ...options,
  skipLibCheck: false,
  noEmit: true,
});
const ours = (file) => file !== undefined && file.fileName.startsWith(packageDir + "/");
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...files.flatMap((file) => {
    const source = program.getSourceFile(file);
    return source
      ? [
        ...program.getSyntacticDiagnostics(source),
        ...program.getSemanticDiagnostics(source),
      ]
      : [];
  }),
].filter((diagnostic) => diagnostic.file === undefined || ours(diagnostic.file));

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
console.log(
  `check-dts: ${files.length} .d.ts files of @gramio/session type-check with skipLibCheck off`,
);
