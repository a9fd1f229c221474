/**
 * How `ctx.session` (or `ctx[key]`) reaches the session of its update: one
 * accessor on each GramIO context class's prototype, which looks the context
 * up in a table of the updates in flight.
 *
 * Nothing is written to the context itself: writing to GramIO's contexts is
 * what costs. Against this plugin's earlier way, an accessor defined on each
 * context (as grammY does), a lazy untouched update went from 1.5 to 0.6 µs
 * over GramIO's floor; a symbol-keyed slot on the context cost more still, and
 * so did a marker written to the context when its update ended (~2 µs). Three
 * workers per variant, one run each.
 *
 * When the update ends, its slot is noted on the raw update object
 * (`ctx.update`, which costs nothing measurable), so that later use of that
 * context's property can say it came too late. Contexts that no session
 * plugin handled (another bot in the process) read the property as
 * `undefined` and take assignments as an ordinary property, as if the
 * accessor were not there. Contexts that are not GramIO's (a plain object run
 * through a composer) get the accessor on themselves instead: no foreign
 * prototype, least of all `Object.prototype`, is ever changed.
 *
 * @module
 */

import { contextsMappings } from "gramio";
import { derivedSession } from "./session_unavailable.ts";

/** What the property reads and writes for one update: a session, or a refusal. */
export interface SessionSlot {
  /** The context it was bound to. */
  readonly context: object;
  read(): unknown;
  write(value: unknown): void;
  /**
   * What stands in once the update is over: a light slot that refuses with
   * the reason, holding neither the session nor its snapshot.
   */
  finished(): SessionSlot;
}

/** Contexts in flight, per property name. */
type Table = Map<object, SessionSlot>;

/** What is shared per property name: the table, and finished slots that had no room on their update. */
interface Shared {
  table: Table;
  /** Rare: an update object handled by several contexts, or one that cannot be written. */
  overflow: WeakMap<object, SessionSlot>;
}

/**
 * Every key below is shared through `Symbol.for` (and the tables through
 * `globalThis`), so that two copies of this module in one process (two
 * versions installed) use one table and one accessor per name instead of
 * calling each other's a clash. Bump the version when the protocol (the
 * table, `SessionSlot`, the finished note) changes.
 */
const PROTOCOL = "@gramio/session@1";
const ACCESSOR_MARK = Symbol.for(`${PROTOCOL}:accessor`);
const shared: Map<string, Shared> =
  ((globalThis as Record<symbol, Map<string, Shared> | undefined>)[
    Symbol.for(`${PROTOCOL}:contexts`)
  ] ??= new Map());

/** Prototypes of GramIO's context classes: the only ones that get the accessor. */
const gramioPrototypes = new Set<object>(
  Object.values(contextsMappings).map((Context) => Context.prototype as object),
);

/** The session property `name` on GramIO contexts. */
export class ContextProperty {
  readonly #name: string;
  readonly #table: Table;
  readonly #overflow: WeakMap<object, SessionSlot>;
  readonly #finished: symbol;
  readonly #accessor: PropertyDescriptor;
  /** Prototypes that carry the accessor: each is checked once, not on every update. */
  readonly #onPrototype = new WeakSet<object>();
  /** The last of them, to skip even the set lookup while update types repeat. */
  #last: object | undefined;

  constructor(name: string) {
    this.#name = name;
    let state = shared.get(name);
    if (!state) shared.set(name, state = { table: new Map(), overflow: new WeakMap() });
    this.#table = state.table;
    this.#overflow = state.overflow;
    this.#finished = Symbol.for(`${PROTOCOL}:finished:${name}`);
    this.#accessor = accessor(name, state, this.#finished);
  }

  /**
   * Whether `prototype` (or its chain) has the property from somewhere other
   * than a session plugin: a GramIO getter such as `chat`, or another plugin.
   */
  takenOn(prototype: object | null): boolean {
    for (let target = prototype; target; target = Object.getPrototypeOf(target)) {
      const descriptor = Object.getOwnPropertyDescriptor(target, this.#name);
      if (descriptor) return !isOurs(descriptor);
    }
    return false;
  }

  /**
   * Binds `slot` to `ctx` until {@linkcode unbind}. Returns `false`, binding
   * nothing, when the context already has the property from elsewhere (a
   * derive, a decorate or another plugin) or another session bound it.
   */
  bind(ctx: object, slot: SessionSlot): boolean {
    if (this.#table.has(ctx) || (Object.hasOwn(ctx, this.#name) && !this.#ownIsOurs(ctx))) {
      return false;
    }
    const prototype = Object.getPrototypeOf(ctx) as object | null;
    if (prototype !== this.#last) {
      if (!prototype || !this.#onPrototype.has(prototype)) {
        if (!this.#prepare(prototype)) return this.#bindOnInstance(ctx, slot);
      }
      this.#last = prototype!;
    }
    this.#table.set(ctx, slot);
    return true;
  }

  /**
   * The update is over. Its finished slot is noted on the raw update (no
   * write to the context, which is what costs), so that later use of the
   * property (work a handler did not await) is refused with the reason.
   */
  unbind(ctx: object, slot: SessionSlot): void {
    this.#table.delete(ctx);
    const finished = slot.finished();
    const update = (ctx as { update?: unknown }).update;
    if (typeof update === "object" && update !== null) {
      const notes = update as Record<symbol, SessionSlot | undefined>;
      const earlier = notes[this.#finished];
      // The same update object handled again (another bot, a test): keep the earlier note.
      if (earlier !== undefined && earlier.context !== ctx) {
        this.#overflow.set(earlier.context, earlier);
      }
      try {
        notes[this.#finished] = finished;
        return;
      } catch {
        // A frozen or sealed update.
      }
    }
    this.#overflow.set(ctx, finished);
  }

  #ownIsOurs(ctx: object): boolean {
    const own = Object.getOwnPropertyDescriptor(ctx, this.#name);
    return own !== undefined && isOurs(own);
  }

  /**
   * Puts the accessor on a GramIO context prototype, unless the property is
   * taken there. `false` for prototypes that are not GramIO's.
   */
  #prepare(prototype: object | null): boolean {
    if (!isGramioContext(prototype) || this.takenOn(prototype)) return false;
    if (!(this.#name in prototype)) {
      Object.defineProperty(prototype, this.#name, this.#accessor);
    }
    this.#onPrototype.add(prototype);
    return true;
  }

  /** Not a GramIO context: the accessor goes on the context itself. */
  #bindOnInstance(ctx: object, slot: SessionSlot): boolean {
    if (this.takenOn(Object.getPrototypeOf(ctx))) return false;
    if (!Object.hasOwn(ctx, this.#name)) Object.defineProperty(ctx, this.#name, this.#accessor);
    this.#table.set(ctx, slot);
    return true;
  }
}

function isGramioContext(prototype: object | null): prototype is object {
  for (let target = prototype; target; target = Object.getPrototypeOf(target)) {
    if (gramioPrototypes.has(target)) return true;
  }
  return false;
}

function accessor(name: string, { table, overflow }: Shared, finished: symbol): PropertyDescriptor {
  /** The slot of a context in flight, or of one whose update is over. */
  const slotOf = (ctx: object): SessionSlot | undefined => {
    const slot = table.get(ctx);
    if (slot !== undefined) return slot;
    const update = (ctx as { update?: unknown }).update;
    if (typeof update === "object" && update !== null) {
      const note = (update as Record<symbol, SessionSlot | undefined>)[finished];
      // The same update object may have reached another context (another bot).
      if (note?.context === ctx) return note;
    }
    const late = overflow.get(ctx);
    if (late !== undefined) return late;
    // An object made with Object.create(ctx) (a wrapper another plugin or a
    // test builds) means its context's session. Only contexts without a slot get here.
    const proto = Object.getPrototypeOf(ctx) as object | null;
    return proto !== null && !gramioPrototypes.has(proto) ? slotOf(proto) : undefined;
  };
  const get = function (this: object): unknown {
    return slotOf(this)?.read();
  };
  Object.defineProperty(get, ACCESSOR_MARK, { value: true });
  const set = function (this: object, value: unknown): void {
    const slot = slotOf(this);
    if (slot !== undefined) {
      if (copiedByDerive(set)) throw derivedSession(name);
      slot.write(value);
      return;
    }
    Object.defineProperty(this, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  };
  return { configurable: true, enumerable: false, get, set };
}

/** V8's stack API (Deno, Node): structured frames instead of text. */
type V8ErrorConstructor = ErrorConstructor & {
  captureStackTrace?(target: object, below?: (...args: never[]) => unknown): void;
  prepareStackTrace?: unknown;
  stackTraceLimit?: number;
};

interface CallSite {
  getFunctionName(): string | null;
}

/**
 * Whether the assignment `setter` is running for comes from GramIO copying a
 * derive's (or decorate's) result onto the context: `Object.assign(ctx,
 * result)` called from a middleware that GramIO names `derive...` or
 * `decorate`. A handler's `ctx.session = value` is called from elsewhere. Only
 * V8 exposes the frames (Deno, Node); on other engines this answers `false`
 * and such an assignment replaces the session like a handler's. Capturing the
 * frames costs each assignment of the property ~15 µs (V8 walks the stack),
 * nothing otherwise: assignments are rare next to changing fields.
 */
function copiedByDerive(setter: (...args: never[]) => unknown): boolean {
  const V8Error = Error as V8ErrorConstructor;
  if (typeof V8Error.captureStackTrace !== "function") return false;
  const { prepareStackTrace, stackTraceLimit } = V8Error;
  const holder: { stack?: unknown } = {};
  let sites: unknown;
  try {
    V8Error.prepareStackTrace = (_: unknown, frames: unknown) => frames;
    V8Error.stackTraceLimit = 2;
    V8Error.captureStackTrace(holder, setter); // frames from the setter's caller on
    sites = holder.stack;
  } catch {
    // A frozen Error (hardened runtimes): no frames, treated as an assignment.
  }
  try {
    V8Error.prepareStackTrace = prepareStackTrace;
    V8Error.stackTraceLimit = stackTraceLimit;
  } catch {
    // Frozen: nothing was changed.
  }
  if (!Array.isArray(sites) || sites.length < 2) return false;
  const [assign, caller] = sites as CallSite[];
  return typeof assign?.getFunctionName === "function" &&
    assign.getFunctionName() === "assign" &&
    /^(?:derive|decorate)(?::|$)/.test(caller?.getFunctionName?.() ?? "");
}

function isOurs(descriptor: PropertyDescriptor): boolean {
  return typeof descriptor.get === "function" && ACCESSOR_MARK in descriptor.get;
}
