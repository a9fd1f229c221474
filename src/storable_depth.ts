/**
 * The depth check of a session before it is saved: every storage reads back
 * recursively, so data nested deeper than {@linkcode MAX_DEPTH} would save
 * but never load. It walks in the serializers' order, so the depth it finds
 * is the one a storage's reader meets.
 *
 * @module
 */

import { isBoxed, namedArrayKeys } from "./value_kinds.ts";
import { DepthError, MAX_DEPTH } from "./depth_limit.ts";

/**
 * Throws a {@linkcode DepthError} when `data` nests deeper than
 * {@linkcode MAX_DEPTH}. Walks in the serializers' order (depth-first, each
 * object once), so the depth it finds is the depth a storage's reader meets;
 * it recurses at most `MAX_DEPTH` levels, and measures a deeper value
 * without recursion for the message.
 *
 * `session` is the session object when `data` holds only some of its fields:
 * met inside them, it is not walked.
 */
export function assertStorableDepth(data: object, session: object = data): void {
  walkFields(data, session);
}

/** What {@linkcode storableShape} finds besides the depth. */
export interface SessionShape {
  /** A field reaches the session object itself. */
  readonly containsItself: boolean;
  /** An object is reached from two top-level fields. */
  readonly fieldsShare: boolean;
}

/**
 * Checks the depth like {@linkcode assertStorableDepth}, and tells whether
 * `data` (or the session `data` holds some fields of) contains itself, or
 * shares objects between the top-level fields of `data`.
 */
export function storableShape(data: object, session: object = data): SessionShape {
  const walk = walkFields(data, session);
  return { containsItself: walk?.sessionMet ?? false, fieldsShare: walk?.fieldsShare ?? false };
}

function walkFields(data: object, session: object): DepthWalk | undefined {
  let walk: DepthWalk | undefined;
  const record = data as Record<string, unknown>;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const field = record[key];
    if (typeof field !== "object" || field === null) continue;
    walk ??= new DepthWalk(data, session);
    walk.field++;
    if (walk.exceeds(field, 2)) {
      throw new DepthError(deepestLevel(field, new Set([data, session])), key);
    }
  }
  return walk;
}

class DepthWalk {
  /** Objects met, with the top-level field each was first met in (0: the roots). */
  readonly #seen = new Map<object, number>();
  readonly #session: object;
  /** The top-level field being walked, counted from 1. */
  field = 0;
  /** Whether the walk reached the session object. */
  sessionMet = false;
  /** Whether an object was met in two top-level fields. */
  fieldsShare = false;

  constructor(root: object, session: object) {
    this.#seen.set(root, 0);
    this.#seen.set(session, 0);
    this.#session = session;
  }

  /** Whether `value`, at level `depth`, or anything under it not seen yet is deeper than MAX_DEPTH. */
  exceeds(value: object, depth: number): boolean {
    const metIn = this.#seen.get(value);
    if (metIn !== undefined) {
      if (value === this.#session) this.sessionMet = true;
      else if (metIn !== this.field) this.fieldsShare = true;
      return false;
    }
    if (depth > MAX_DEPTH) return true;
    this.#seen.set(value, this.field);
    const next = depth + 1;
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.#fields(value, next);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (this.#child(value[i], next)) return true;
      const named = namedArrayKeys(value);
      if (named) {
        const record = value as unknown as Record<string, unknown>;
        for (const key of named) if (this.#child(record[key], next)) return true;
      }
      return false;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) if (this.#child(k, next) || this.#child(v, next)) return true;
      return false;
    }
    if (value instanceof Set) {
      for (const item of value) if (this.#child(item, next)) return true;
      return false;
    }
    if (value instanceof Error && Object.hasOwn(value, "cause")) {
      if (this.#child(value.cause, next)) return true;
    }
    if (
      value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer ||
      value instanceof RegExp || isBoxed(value)
    ) return false;
    return this.#fields(value, next);
  }

  /** The own enumerable fields of `value`, at level `depth`. */
  #fields(value: object, depth: number): boolean {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (hasOwn.call(record, key) && this.#child(record[key], depth)) return true;
    }
    return false;
  }

  #child(value: unknown, depth: number): boolean {
    return typeof value === "object" && value !== null && this.exceeds(value, depth);
  }
}

/** `hasOwnProperty.call` in `for...in` is a hidden-class check, `Object.hasOwn` a call per key. */
const hasOwn = Object.prototype.hasOwnProperty;

/** The deepest level under `start` (at level 2), skipping objects already in `seen`; iterative. */
function deepestLevel(start: object, seen: Set<object>): number {
  let deepest = 0;
  const frames: unknown[][] = [[start]];
  const positions: number[] = [0];
  while (frames.length > 0) {
    const top = frames.length - 1;
    const items = frames[top];
    if (positions[top] === items.length) {
      frames.pop();
      positions.pop();
      continue;
    }
    const item = items[positions[top]++];
    if (typeof item !== "object" || item === null || seen.has(item)) continue;
    seen.add(item);
    // frames[0] holds a top-level field: level 2.
    deepest = Math.max(deepest, top + 2);
    const children = childrenOf(item);
    if (children.length > 0) {
      frames.push(children);
      positions.push(0);
    }
  }
  return deepest;
}

/** The values an object holds, in the order serializers visit them. */
function childrenOf(value: object): unknown[] {
  const out: unknown[] = [];
  if (value instanceof Map) {
    for (const [k, v] of value) out.push(k, v);
    return out;
  }
  if (value instanceof Set) {
    for (const item of value) out.push(item);
    return out;
  }
  if (
    value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer ||
    value instanceof RegExp || isBoxed(value)
  ) return out;
  if (value instanceof Error && Object.hasOwn(value, "cause")) out.push(value.cause);
  // Arrays: indices, then named keys, like other objects.
  const record = value as Record<string, unknown>;
  for (const key in record) if (Object.hasOwn(record, key)) out.push(record[key]);
  return out;
}
