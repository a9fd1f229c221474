/**
 * How `ctx.session` (or `ctx[key]`) reaches the session of its update: one
 * accessor on each GramIO context class's prototype, which looks the context
 * up in a table of the updates in flight.
 *
 * Nothing is written to the context itself. Against this plugin's earlier
 * way, an accessor defined on each context (as grammY does) plus a table, a
 * lazy untouched update went from 1.5 to 0.6 µs over GramIO's floor (three
 * workers per variant, one run); a symbol-keyed slot holding the session
 * measured 2.4 µs. A context that is not in the table (its update is over,
 * or no session plugin handled it) answers reads with an error that says so,
 * and takes assignments as an ordinary property, as if the accessor were
 * absent.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** What the property reads and writes during one update: a session, or a refusal. */
export interface SessionSlot {
  read(): unknown;
  write(value: unknown): void;
}

/** Contexts in flight, per property name. */
type Table = Map<object, SessionSlot>;

/**
 * Shared through `globalThis` and marked with `Symbol.for`, so that two copies
 * of this module in one process (two versions installed) use one table and
 * one accessor per name instead of calling each other's a clash.
 */
const TABLES_KEY = Symbol.for("@gramio/session.contexts@1");
const ACCESSOR_MARK = Symbol.for("@gramio/session.accessor@1");
const tables: Map<string, Table> =
  ((globalThis as Record<symbol, Map<string, Table> | undefined>)[TABLES_KEY] ??= new Map());

/** The session property `name` on GramIO contexts. */
export class ContextProperty {
  readonly #name: string;
  readonly #table: Table;
  /** Prototypes that carry the accessor: each is checked once, not on every update. */
  readonly #ready = new WeakSet<object>();
  /** The last of them, to skip even the set lookup while update types repeat. */
  #last: object | undefined;

  constructor(name: string) {
    this.#name = name;
    let table = tables.get(name);
    if (!table) tables.set(name, table = new Map());
    this.#table = table;
  }

  /**
   * Whether `prototype` (or its chain) has the property from somewhere other
   * than a session plugin: a GramIO getter such as `chat`, or another plugin.
   */
  takenOn(prototype: object): boolean {
    for (let target: object | null = prototype; target; target = Object.getPrototypeOf(target)) {
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
    const prototype = Object.getPrototypeOf(ctx) as object | null;
    if (prototype !== this.#last) {
      if (!prototype || !(this.#ready.has(prototype) || this.#prepare(prototype))) return false;
      this.#last = prototype;
    }
    if (Object.hasOwn(ctx, this.#name) || this.#table.has(ctx)) return false;
    this.#table.set(ctx, slot);
    return true;
  }

  /** The update is over: from now on the property refuses to be read. */
  unbind(ctx: object): void {
    this.#table.delete(ctx);
  }

  /** Puts the accessor on a context prototype, unless the property is taken there. */
  #prepare(prototype: object): boolean {
    if (this.takenOn(prototype)) return false;
    if (!(this.#name in prototype)) {
      Object.defineProperty(prototype, this.#name, accessor(this.#name, this.#table));
    }
    this.#ready.add(prototype);
    return true;
  }
}

function accessor(name: string, table: Table): PropertyDescriptor {
  const get = function (this: object): unknown {
    const slot = table.get(this);
    if (slot === undefined) throw notBound(name);
    return slot.read();
  };
  Object.defineProperty(get, ACCESSOR_MARK, { value: true });
  return {
    configurable: true,
    enumerable: false,
    get,
    set(this: object, value: unknown) {
      const slot = table.get(this);
      if (slot !== undefined) return slot.write(value);
      Object.defineProperty(this, name, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    },
  };
}

function notBound(name: string): SessionError {
  return new SessionError(
    `ctx.${name} was used after its update had finished (a handler started work it did not await), or on a ` +
      "context that no session plugin handled: nothing read or changed then could be saved. Await that work " +
      "in the handler.",
  );
}

function isOurs(descriptor: PropertyDescriptor): boolean {
  return typeof descriptor.get === "function" && ACCESSOR_MARK in descriptor.get;
}
