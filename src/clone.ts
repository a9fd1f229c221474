/**
 * A deep copy with Deno KV's structured-clone results (Date, Map, Set, BigInt,
 * typed arrays, RegExp, cycles; class instances become plain objects;
 * functions and symbols are refused), made for session-sized data:
 * `structuredClone` costs ~18 us even for `{ apple: 1 }`, this ~0.1 us. It
 * keeps in-memory storage isolated from the objects handlers hold.
 *
 * @module
 */

/** Copies `value` deeply; throws a TypeError naming the path of a value no storage can hold. */
export function cloneValue<T>(value: T): T {
  const flat = flatCopy(value);
  if (flat !== undefined) return flat as T;
  return new Cloner().clone(value, "") as T;
}

class Cloner {
  #copies: Map<object, unknown> | undefined;

  clone(value: unknown, path: string): unknown {
    if (typeof value !== "object" || value === null) {
      if (typeof value === "function" || typeof value === "symbol") {
        throw new TypeError(
          `Session value at "${path || "(root)"}" is a ${typeof value}: ` +
            "sessions hold data only (objects, arrays, Map, Set, Date, primitives).",
        );
      }
      return value;
    }
    const copies = this.#copies ??= new Map();
    const known = copies.get(value);
    if (known !== undefined) return known;

    if (Array.isArray(value)) {
      const copy: unknown[] = new Array(value.length);
      copies.set(value, copy);
      for (let i = 0; i < value.length; i++) {
        copy[i] = this.clone(value[i], `${path}[${i}]`);
      }
      return copy;
    }
    if (value instanceof Date) {
      return remember(copies, value, new Date(value.getTime()));
    }
    if (value instanceof Map) {
      const copy = remember(copies, value, new Map());
      for (const [k, v] of value) {
        copy.set(
          this.clone(k, `${path}<key>`),
          this.clone(v, `${path}<value>`),
        );
      }
      return copy;
    }
    if (value instanceof Set) {
      const copy = remember(copies, value, new Set());
      for (const item of value) copy.add(this.clone(item, `${path}<item>`));
      return copy;
    }
    if (
      ArrayBuffer.isView(value) || value instanceof ArrayBuffer ||
      value instanceof RegExp
    ) {
      return remember(copies, value, structuredClone(value));
    }

    const copy: Record<string, unknown> = {};
    copies.set(value, copy);
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (Object.hasOwn(record, key)) {
        setOwn(copy, key, this.clone(record[key], path ? `${path}.${key}` : key));
      }
    }
    return copy;
  }
}

function remember<T>(
  copies: Map<object, unknown>,
  original: object,
  copy: T,
): T {
  copies.set(original, copy);
  return copy;
}

/** Sets an own field, even one named `__proto__` (which `=` would treat as the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}

/**
 * A copy of a plain object whose fields are all primitives (most sessions),
 * without the Cloner's bookkeeping; `undefined` for anything else.
 */
function flatCopy(value: unknown): object | undefined {
  if (
    typeof value !== "object" || value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) return undefined;
  const copy: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const field = record[key];
    if (
      (typeof field === "object" && field !== null) ||
      typeof field === "function" || typeof field === "symbol"
    ) return undefined;
    setOwn(copy, key, field);
  }
  return copy;
}
