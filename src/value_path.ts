/**
 * Where a value sits inside another, as error messages name it: `a.b`,
 * `list[0]`, `map<key>`, `map<value>`, `set<item>`. Looked up only when an
 * error needs it, so that copies and walks build no path per value.
 *
 * @module
 */

/**
 * The path of `target` inside `value` (named `path`), in the order the
 * copier walks: `a.b`, `list[0]`, `map<key>`, `map<value>`, `set<item>`.
 */
export function pathTo(
  value: unknown,
  target: unknown,
  path: string,
  seen: Set<object> = new Set(),
): string | undefined {
  if (value === target) return path;
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  const into = (child: unknown, at: string) => pathTo(child, target, at, seen);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = into(k, `${path}<key>`) ?? into(v, `${path}<value>`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const item of value) {
      const found = into(item, `${path}<item>`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const at = Array.isArray(value) && isIndex(key)
      ? `${path}[${key}]`
      : path
      ? `${path}.${key}`
      : key;
    const found = into(record[key], at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Whether `key` is an array index (not a named array property). */
export function isIndex(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1 && String(n) === key;
}
