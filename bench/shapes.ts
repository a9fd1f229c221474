/**
 * Realistic session data of a chosen size, the same for every framework: a
 * shopping cart, a form (wizard answers) and a message history, plus from
 * 1 KB on a profile with a `Date`, settings, a `Set` of flags and a `Map` of
 * counters. The history grows with the size (as in a real bot); the cart
 * (at most 20 items) and the form (at most 12 answers) stay bounded.
 *
 * A changing update adds one to `cart.items[0].quantity` (one small nested
 * field); a read-only update reads the cart's length and the form's step.
 *
 * @module
 */

import { serialize } from "node:v8";
import { seeded } from "./stats.ts";

/** A benchmark session: only the fields the handlers use are typed. */
export interface Shaped {
  cart: { items: { quantity: number }[] };
  form: { step: number; answers: Record<string, unknown> };
  [field: string]: unknown;
}

const WORDS = (
  "order pizza margherita delivery tomorrow evening please add extra cheese " +
  "thanks where is my parcel tracking number status refund coupon code " +
  "settings language english notifications daily weekly price total cart"
).split(" ");
const START = Date.UTC(2025, 0, 1);
const MAX_CART_ITEMS = 20;
const MAX_ANSWERS = 12;

/** The session's size as Deno KV stores it (V8 serialization), in bytes. */
export function storedBytes(value: unknown): number {
  return serialize(value).byteLength;
}

/**
 * A session whose V8 serialization is `bytes` long or just over it (the
 * smallest shape, about 90 bytes, for anything below).
 */
export function sessionOfSize(bytes: number): Shaped {
  const next = seeded(42); // every run builds the same sessions
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const words = (min: number, max: number): string => {
    const out: string[] = [];
    const count = min + Math.floor(next() * (max - min));
    for (let i = 0; i < count; i++) out.push(pick(WORDS));
    return out.join(" ");
  };
  const items: Record<string, unknown>[] = [{ sku: "SKU-1000", quantity: 1 }];
  const answers: Record<string, unknown> = {};
  const history: Record<string, unknown>[] = [];
  const session: Shaped = {
    cart: { items: items as Shaped["cart"]["items"] },
    form: { step: 0, answers },
    history,
  };
  if (bytes >= 1024) {
    Object.assign(session, {
      user: { id: 1_000_001, firstName: "Ada", language: "en", joinedAt: new Date(START) },
      settings: { theme: "dark", currency: "EUR", notifications: { daily: true, weekly: false } },
      flags: new Set(["onboarded", "beta"]),
      counters: new Map([["orders", 7], ["refunds", 1]]),
    });
    Object.assign(items[0], {
      title: words(2, 5),
      price: 12.5,
      options: { size: "M", color: "red" },
    });
  }
  let round = 0;
  const grow = (): void => {
    round++;
    if (round % 4 === 0 && items.length < MAX_CART_ITEMS) {
      items.push({
        sku: `SKU-${1000 + items.length}`,
        title: words(2, 5),
        quantity: 1 + (round % 3),
        price: Math.round(next() * 5000) / 100,
        options: { size: pick(["S", "M", "L"]), color: pick(["red", "blue", "black"]) },
      });
    } else if (round % 2 === 1 && Object.keys(answers).length < MAX_ANSWERS) {
      answers[`q${Object.keys(answers).length + 1}`] = words(1, 3);
      session.form.step++;
    } else {
      const id = history.length + 1;
      history.push({
        id,
        at: new Date(START + id * 60_000),
        kind: pick(["message", "command", "callback"]),
        text: words(4, 16),
        meta: { chatId: 1_000_001, replyTo: id > 1 && next() < 0.3 ? id - 1 : null },
      });
    }
  };
  // Several steps per size check while far from the target (a check serializes it all).
  for (let size = storedBytes(session); size < bytes; size = storedBytes(session)) {
    for (let step = Math.max(1, Math.floor((bytes - size) / 250)); step > 0; step--) grow();
  }
  return session;
}

/**
 * A deep copy of a session made by {@linkcode sessionOfSize} (plain objects,
 * arrays, `Date`, `Map`, `Set`, primitives): each user's own session, cheaper
 * than `structuredClone` when a million are made.
 */
export function copyOf<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyOf) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Map) {
    return new Map([...value].map(([key, item]) => [copyOf(key), copyOf(item)])) as T;
  }
  if (value instanceof Set) return new Set([...value].map(copyOf)) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = copyOf((value as Record<string, unknown>)[key]);
  return out as T;
}

/** The changing handler's work: one small nested field. */
export function change(session: Shaped): void {
  session.cart.items[0].quantity++;
}

/** The read-only handler's work; the result goes to a sink so it is not optimized away. */
export function read(session: Shaped): number {
  return session.cart.items.length + session.form.step;
}

/** How many changing updates a stored session has seen, given the session it started as. */
export function changesOf(stored: Shaped | undefined, initial: Shaped): number {
  return stored ? stored.cart.items[0].quantity - initial.cart.items[0].quantity : 0;
}

/** A size for tables: "100 B", "1 KB", "200 KB". */
export function sizeLabel(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024)} KB`;
}
