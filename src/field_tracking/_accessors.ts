/**
 * The accessors of session fields read lazily (field_tracking/mod.ts): one
 * getter and setter per field name, shared by every session object, which
 * find the session's tracking on the session object itself (`OWNER`). A
 * getter made per session would give each session object its own hidden
 * class, and V8 would turn them into slow dictionaries (and `for...in` loops
 * over them with them).
 *
 * @module
 */

/** What an accessor asks: the field's value, or to assign it. */
export interface AccessorOwner {
  /** The session object whose accessors it answers. */
  readonly live: object;
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

/**
 * Where a session object holds the owner of its accessors: an own,
 * non-enumerable symbol property (no key list, spread, clone or serializer
 * sees it). Not a `WeakMap`: V8's young-generation collections treat the
 * values of an old `WeakMap` as alive, so one entry per update kept every
 * tracked session (its values as read) through each scavenge until a full
 * collection. On Deno KV at 10 KB, 6.5 MB survived each scavenge (10-20 ms
 * pauses, against 0.5 ms without).
 */
const OWNER: unique symbol = Symbol("@gramio/session accessor owner");
/** Every getter this module made, to tell them from a handler's own. */
const getters = new WeakSet<object>();

/** Shared accessors per field name (at most `MAX_SHARED` names; others get their own). */
const accessors = new Map<string, PropertyDescriptor>();
const MAX_SHARED = 1024;

/**
 * Makes `owner` answer the accessors {@linkcode defineAccessor} gives
 * `session` (a session object reused for a `$clear()` gets its new owner).
 */
export function attachOwner(session: object, owner: AccessorOwner): void {
  if (Object.hasOwn(session, OWNER)) {
    (session as Record<symbol, AccessorOwner>)[OWNER] = owner;
    return;
  }
  Object.defineProperty(session, OWNER, { value: owner, writable: true });
  Object.defineProperty(session, DENO_INSPECT, INSPECT_IN_DENO);
  Object.defineProperty(session, NODE_INSPECT, INSPECT_IN_NODE);
}

/**
 * Defines field `key` of `session` as an own, enumerable, configurable
 * accessor that the owner attached to it answers (spread, `JSON.stringify`,
 * `structuredClone` and `Object.keys` see it as a field).
 */
export function defineAccessor(session: object, key: string): void {
  Object.defineProperty(session, key, accessorFor(key));
}

/**
 * `console.log(ctx.session)` shows the fields' values, not `[Getter/Setter]`:
 * Deno's and Node's (and Bun's) inspection hooks, not enumerable (no key
 * list, spread, clone or serializer sees them), print a plain copy of the
 * session's own enumerable fields (reading them, as any handler may).
 */
const DENO_INSPECT = Symbol.for("Deno.customInspect");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");
const INSPECT_IN_DENO: PropertyDescriptor = {
  value(this: object, inspect: (value: unknown, options: unknown) => string, options: unknown) {
    return inspect({ ...this }, options);
  },
  configurable: true,
  writable: true,
};
const INSPECT_IN_NODE: PropertyDescriptor = {
  value(this: object) {
    return { ...this };
  },
  configurable: true,
  writable: true,
};

function accessorFor(key: string): PropertyDescriptor {
  let accessor = accessors.get(key);
  if (accessor === undefined) {
    accessor = {
      get(this: object) {
        return ownerOf(this).get(key);
      },
      set(this: object, value: unknown) {
        ownerOf(this).set(key, value);
      },
      enumerable: true,
      configurable: true,
    };
    getters.add(accessor.get!);
    if (accessors.size < MAX_SHARED) accessors.set(key, accessor);
  }
  return accessor;
}

/**
 * Whether field `key` of `session` is still one of these accessors, found
 * without calling it: a handler's own getter in its place may read other
 * fields, which must then answer as for the handler.
 */
export function isTrackedAccessor(session: object, key: string): boolean {
  const getter = Object.getOwnPropertyDescriptor(session, key)?.get;
  return getter !== undefined && getters.has(getter);
}

/** The owner of a session object's accessors, or of the session an object inherits from. */
function ownerOf(object: object): AccessorOwner {
  for (let at: object | null = object; at !== null; at = Object.getPrototypeOf(at)) {
    // A copy made with the property descriptors has the symbol too, not the owner.
    const found = Object.hasOwn(at, OWNER)
      ? (at as Record<symbol, AccessorOwner>)[OWNER]
      : undefined;
    if (found?.live === at) return found;
  }
  throw new TypeError(
    "A session field accessor was called on an object that is not a session (copied with its property descriptors?). Large session fields (in memory, every object field) are accessors until read: copy a session with { ...ctx.session } or structuredClone(ctx.session), which read every field.",
  );
}
