/**
 * `deno doc --lint` on every entry point in deno.json's exports, failing on
 * any finding except one known Deno false positive: types of npm packages
 * live at file: URLs in Deno's npm cache, so `deno doc` calls public GramIO
 * types "private" (denoland/deno#27364; the fix there covers jsr: and https:
 * only). Only the GramIO types named below are tolerated, so a real private
 * type of ours still fails.
 *
 *   deno run -A scripts/doc_lint.ts
 */

/** Public GramIO types our signatures use (the session plugin's type and its context). */
const PUBLIC_NPM_TYPES = new Set(["Plugin", "DeriveDefinitions", "Context", "AnyBot"]);

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const entries = Object.values(config.exports as Record<string, string>);
const output = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", ...entries],
  cwd: new URL("..", import.meta.url),
  env: { NO_COLOR: "1" },
}).output();
const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);

const findings = text.split(/\n(?=error\[)/).filter((block) => block.startsWith("error["));
const real = findings.filter((block) => {
  const type = block.match(/^error\[private-type-ref\]: .* references private type '([^']+)'/)?.[1];
  return !(type && PUBLIC_NPM_TYPES.has(type));
});

if (real.length) {
  console.error(real.join("\n"));
  console.error(`doc lint: ${real.length} finding(s) in ${entries.join(", ")}`);
  Deno.exit(1);
}
console.log(
  `doc lint: ${entries.join(", ")} clean (${findings.length} tolerated npm type reference(s))`,
);
