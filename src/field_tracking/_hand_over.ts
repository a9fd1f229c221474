/**
 * What the in-memory storage is handed at a save (field_tracking/mod.ts):
 * a new session object whose fields are the stored values where handlers
 * never read them or left them as read, and copies of the others, so that
 * a save costs what changed. Where that cannot keep the session's shape
 * (objects shared between fields, the session inside itself), every field
 * read is copied together instead.
 *
 * @module
 */

import { FieldCopier, NotATree } from "../clone.ts";
import { setOwn } from "../value_kinds.ts";
import { DepthError } from "../depth_limit.ts";
import { storableShape } from "../storable_depth.ts";
import type { StoredShape } from "../storages/memory.ts";

/** The live object's fields, in order; `asRead`: a field never read, given as read. */
export interface LiveFields {
  keys: string[];
  values: unknown[];
  asRead: boolean[];
}

/** What the last comparison of the live object with the session as read found, per field. */
export interface Compared {
  /** The value compared. */
  values: unknown[];
  /** Whether it equals the value as read. */
  same: boolean[];
  /** The objects of the fields found equal (live side). */
  met: { has(object: object): boolean }[];
}

/** A session handed over, and how the objects it reaches are linked. */
export interface HandedOver {
  value: object;
  shape: StoredShape;
}

/** The object fields of the live object that were handed out, by key (for walks). */
export function handedOut(fields: LiveFields): Record<string, unknown> {
  const walked: Record<string, unknown> = {};
  fields.keys.forEach((key, j) => {
    const value = fields.values[j];
    if (!fields.asRead[j] && typeof value === "object" && value !== null) {
      setOwn(walked, key, value);
    }
  });
  return walked;
}

/**
 * Fields never read, or read and found unchanged, are the values as `read`;
 * only the others are copied (their copy checks their depth). `undefined`
 * where that cannot keep the session's shape: a copied field meets an object
 * twice (shared, or a cycle), the session itself, or an object of a field
 * kept as stored; or it is too deep (the walk of every field then measures
 * the depth for the message). `tree`: the session as read is a tree.
 */
export function handOverChanged(
  live: object,
  fields: LiveFields,
  read: { keys: string[]; values: unknown[] },
  compared: Compared,
  tree: boolean,
): HandedOver | undefined {
  const { keys, values, asRead } = fields;
  if (keys.length !== read.keys.length) return undefined;
  const out: Record<string, unknown> = {};
  const copier = new FieldCopier(live, out, true);
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (keys[i] !== read.keys[i]) return undefined;
    if (asRead[i]) setOwn(out, keys[i], value);
    else if (compared.same[i] && compared.values[i] === value) {
      setOwn(out, keys[i], read.values[i]);
    } else {
      try {
        setOwn(out, keys[i], copier.copy(value, keys[i]));
      } catch (error) {
        if (error instanceof DepthError || error instanceof NotATree) return undefined;
        throw error;
      }
    }
  }
  if (compared.met.length) {
    for (const original of copier.originals()) {
      if (compared.met.some((met) => met.has(original))) return undefined;
    }
  }
  // The copies reach no object twice: the session is linked as it was read.
  return { value: out, shape: tree ? "tree" : "shares" };
}

/**
 * Every field read is copied, together (objects they share stay shared),
 * after a walk that finds what they share and checks their depth.
 */
export function handOverAll(live: object, fields: LiveFields, tree: boolean): HandedOver {
  const { keys, values, asRead } = fields;
  const shape = storableShape(handedOut(fields), live);
  const out: Record<string, unknown> = {};
  const copier = new FieldCopier(live, out);
  for (let j = 0; j < keys.length; j++) {
    setOwn(out, keys[j], asRead[j] ? values[j] : copier.copy(values[j], keys[j]));
  }
  return {
    value: out,
    shape: shape.fieldsShare || shape.containsItself
      ? "tangled"
      : tree && !copier.metTwice
      ? "tree"
      : "shares",
  };
}
