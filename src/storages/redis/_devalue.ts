/**
 * devalue's `stringify`, written for speed over the values sessions are made
 * of: plain objects, arrays, strings, numbers, booleans, `null`, `undefined`,
 * `BigInt`, `Date`, `Map` and `Set`. The output is the same string devalue
 * writes (same indices, same sharing of repeated values and references, same
 * escapes), so `devalue.parse` reads it and data written either way is
 * alike. Anything else (typed arrays, `RegExp`, boxed primitives, objects
 * without a prototype or with symbol keys, subclasses, sparse arrays, arrays
 * with named properties, `__proto__` keys, what cannot be stored) answers
 * `undefined`, and the caller runs devalue itself, which stores it or says
 * why not.
 *
 * devalue's own walk pays for its generality per value: operations looked up
 * on an options object, a tag read through `Object.prototype.toString`, a
 * path kept for error messages. For a 1 KB session it took 33 µs; this one
 * about a third of that.
 *
 * @module
 */

/** Thrown inside the walk when devalue must take over. */
const OTHER: unique symbol = Symbol("devalue must take over");

const UNDEFINED = -1;
const NAN = -3;
const POSITIVE_INFINITY = -4;
const NEGATIVE_INFINITY = -5;
const NEGATIVE_ZERO = -6;

/** devalue's string escaping (`stringify_string`). */
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["<\\\u0000-\u001f\u2028\u2029]/;
const JSON_LEAVES_RAW = /[<\u2028\u2029]/g;
const RAW_ESCAPES: Record<string, string> = {
  "<": "\\u003C",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

function quote(text: string): string {
  if (!NEEDS_ESCAPE.test(text) && text.isWellFormed()) return `"${text}"`;
  return JSON.stringify(text).replace(JSON_LEAVES_RAW, (char) => RAW_ESCAPES[char]);
}

/** Quoted property names, as devalue caches them (short names, at most 1024, then emptied). */
const quotedKeys = new Map<string, string>();

function quoteKey(key: string): string {
  if (key.length > 64) return quote(key);
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    if (quotedKeys.size >= 1024) quotedKeys.clear();
    quotedKeys.set(key, quoted = quote(key));
  }
  return quoted;
}

const objectProto = Object.prototype;
const arrayProto = Array.prototype;
const dateProto = Date.prototype;
const mapProto = Map.prototype;
const setProto = Set.prototype;
const { getPrototypeOf, getOwnPropertySymbols, keys: keysOf, hasOwn } = Object;

/**
 * `devalue.stringify(value)` for the values this walk knows; `undefined`
 * when devalue must run instead.
 */
export function fastStringify(value: unknown): string | undefined {
  const out: string[] = [];
  // devalue shares every repeated value, primitives included (by `Map` identity).
  const indexes = new Map<unknown, number>();
  let next = 0;

  const flatten = (thing: unknown): number => {
    switch (typeof thing) {
      case "undefined":
        return UNDEFINED;
      case "number":
        if (thing !== thing) return NAN;
        if (thing === Infinity) return POSITIVE_INFINITY;
        if (thing === -Infinity) return NEGATIVE_INFINITY;
        if (thing === 0 && 1 / thing < 0) return NEGATIVE_ZERO;
        break;
      case "string":
      case "boolean":
      case "bigint":
      case "object":
        break;
      default: // functions and symbols: devalue's error
        throw OTHER;
    }
    const seen = indexes.get(thing);
    if (seen !== undefined) return seen;
    const index = next++;
    indexes.set(thing, index);

    if (typeof thing !== "object" || thing === null) {
      out[index] = typeof thing === "string"
        ? quote(thing)
        : typeof thing === "bigint"
        ? `["BigInt","${thing}"]`
        : String(thing);
      return index;
    }

    const proto = getPrototypeOf(thing);
    let text: string;
    if (proto === objectProto) {
      if (getOwnPropertySymbols(thing).length > 0) throw OTHER;
      const object = thing as Record<string, unknown>;
      text = "{";
      const keys = keysOf(object);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        // "__proto__" and its escaped forms: the storage's devalue operations.
        if (key.charCodeAt(0) === 1 || key === "__proto__") throw OTHER;
        if (i > 0) text += ",";
        text += quoteKey(key) + ":" + flatten(object[key]);
      }
      text += "}";
    } else if (proto === arrayProto) {
      const array = thing as unknown[];
      const length = array.length;
      text = "[";
      for (let i = 0; i < length; i++) {
        const item = array[i];
        // A hole: devalue's sparse forms.
        if (item === undefined && !hasOwn(array, i)) throw OTHER;
        if (i > 0) text += ",";
        text += flatten(item);
      }
      text += "]";
      // Named properties, which devalue would drop: the storage refuses them.
      if (keysOf(array).length !== length) throw OTHER;
    } else if (proto === dateProto) {
      const date = thing as Date;
      text = `["Date","${isNaN(date.getDate()) ? "" : date.toISOString()}"]`;
    } else if (proto === mapProto) {
      text = '["Map"';
      for (const [key, item] of thing as Map<unknown, unknown>) {
        text += "," + flatten(key) + "," + flatten(item);
      }
      text += "]";
    } else if (proto === setProto) {
      text = '["Set"';
      for (const item of thing as Set<unknown>) text += "," + flatten(item);
      text += "]";
    } else throw OTHER;
    out[index] = text;
    return index;
  };

  try {
    const index = flatten(value);
    return index < 0 ? String(index) : `[${out.join(",")}]`;
  } catch (error) {
    if (error === OTHER) return undefined;
    throw error;
  }
}
