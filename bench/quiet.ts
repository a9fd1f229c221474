/**
 * Imported first by the benchmark: silences Node deprecation warnings that
 * Telegraf's dependencies print on load (punycode), which would clutter the
 * report. Nothing else.
 *
 * @module
 */

import process from "node:process";

(process as { noDeprecation?: boolean }).noDeprecation = true;
