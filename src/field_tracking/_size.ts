/**
 * How large a session field is, counted only up to a budget: fields within
 * it are copied or printed when the session is handed out, larger ones when
 * first read (field_tracking/mod.ts); and whether a session has object
 * fields at all.
 *
 * @module
 */

/**
 * Whether `value` holds at most `budget` slots (keys, items, entries) in all.
 * Without a visited set: a cycle or many shared references use the budget up.
 */
export function fits(value: object, budget: number): boolean {
  return slotsLeft(value, budget) >= 0;
}

function slotsLeft(value: object, budget: number): number {
  if (Array.isArray(value)) {
    budget -= value.length;
    for (let i = 0; i < value.length && budget >= 0; i++) budget = child(value[i], budget);
    return budget;
  }
  if (value instanceof Map) {
    budget -= value.size;
    for (const [k, v] of value) {
      if (budget < 0) break;
      budget = child(v, child(k, budget));
    }
    return budget;
  }
  if (value instanceof Set) {
    budget -= value.size;
    for (const item of value) {
      if (budget < 0) break;
      budget = child(item, budget);
    }
    return budget;
  }
  if (ArrayBuffer.isView(value)) return budget - 1 - (value.byteLength >> 6);
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (--budget < 0) return budget;
    budget = child(record[key], budget);
  }
  return budget;
}

function child(value: unknown, budget: number): number {
  return typeof value === "object" && value !== null && budget >= 0
    ? slotsLeft(value, budget)
    : budget;
}

/**
 * Whether no field of `data` holds an object (most sessions): a copy and a
 * snapshot of the whole cost less than tracking its fields.
 */
export function isFlat(data: object): boolean {
  const record = data as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (typeof value === "object" && value !== null) return false;
  }
  return true;
}
