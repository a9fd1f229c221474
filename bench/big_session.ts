/**
 * A realistic large session: a profile, settings, a shopping cart, a wizard's
 * answers, a Set of flags, a Map of counters and a long message history with
 * dates, grown until its V8 serialization (what Deno KV stores) reaches the
 * target size.
 *
 * @module
 */

import { serialize } from "node:v8";

/** Deterministic pseudo-random numbers, so every run builds the same object. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = (
  "order pizza margherita delivery tomorrow evening please add extra cheese " +
  "thanks where is my parcel tracking number status refund coupon code " +
  "settings language english notifications daily weekly price total cart"
).split(" ");

/** Builds a session whose V8 serialization is at least `bytes` long (and just over it). */
export function bigSession(bytes = 50 * 1024): Record<string, unknown> {
  const next = random(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const sentence = (min: number, max: number): string => {
    const words: string[] = [];
    const count = min + Math.floor(next() * (max - min));
    for (let i = 0; i < count; i++) words.push(pick(WORDS));
    return words.join(" ");
  };
  const start = Date.UTC(2025, 0, 1);

  const history: Record<string, unknown>[] = [];
  const session: Record<string, unknown> = {
    user: {
      id: 1_000_001,
      firstName: "Ada",
      lastName: "Lovelace",
      username: "ada",
      language: "en",
      premium: false,
      joinedAt: new Date(start),
    },
    settings: {
      theme: "dark",
      timezone: "Europe/Berlin",
      currency: "EUR",
      notifications: { daily: true, weekly: false, quietHours: [22, 7] },
    },
    cart: {
      items: Array.from({ length: 12 }, (_, i) => ({
        sku: `SKU-${1000 + i}`,
        title: sentence(2, 5),
        quantity: 1 + (i % 3),
        price: Math.round(next() * 5000) / 100,
        options: {
          size: pick(["S", "M", "L"]),
          color: pick(["red", "blue", "black"]),
        },
      })),
      coupon: null,
      updatedAt: new Date(start + 3_600_000),
    },
    wizard: {
      step: 3,
      answers: { name: "Ada", email: "ada@example.com", age: 36 },
    },
    flags: new Set(["onboarded", "beta", "newsletter"]),
    counters: new Map([["messages", 0], ["orders", 7], ["refunds", 1]]),
    history,
  };
  while (serialize(session).byteLength < bytes) {
    const id = history.length + 1;
    history.push({
      id,
      at: new Date(start + id * 60_000),
      kind: pick(["message", "command", "callback"]),
      text: sentence(4, 16),
      meta: {
        chatId: 1_000_001,
        replyTo: id > 1 && next() < 0.3 ? id - 1 : null,
      },
    });
  }
  (session.counters as Map<string, number>).set("messages", history.length);
  return session;
}
