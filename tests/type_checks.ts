/**
 * Type tests, run by `deno check .` (part of `deno task test`): it fails if a
 * `@ts-expect-error` line stops being an error or a line here stops
 * type-checking. Nothing here runs.
 */
import { Bot } from "gramio";
import { inMemoryStorage, keyOf, type Migrations, type Session, session } from "../mod.ts";

interface MySessionData {
  apple: number;
  some?: "maybe-empty";
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
const expectType = <T extends true>(_: T) => {};

const storage = inMemoryStorage();

// Eager, explicit interface: ctx.sessionKey is MySessionData & { $clear(): Promise<void> }.
new Bot("TOKEN")
  .extend(
    session({
      key: "sessionKey",
      storage,
      initial: (): MySessionData => ({ apple: 1 }),
    }),
  )
  .on("message", (context) => {
    expectType<Equal<typeof context.sessionKey, Session<MySessionData>>>(true);
    context.sessionKey.apple++;
    context.sessionKey.some = "maybe-empty";
    const clearing: Promise<void> = context.sessionKey.$clear();
    void clearing;
    // @ts-expect-error: a typo in a session field fails
    context.sessionKey.aple++;
    // @ts-expect-error: the field's type is kept
    context.sessionKey.some = "other";
    // @ts-expect-error: the default key is not there when `key` is set
    void context.session;
  });

// Lazy: a Promise of the session.
new Bot("TOKEN")
  .extend(
    session({
      key: "sessionKey",
      lazy: true,
      storage,
      initial: (): MySessionData => ({ apple: 1 }),
    }),
  )
  .on("message", async (context) => {
    expectType<
      Equal<typeof context.sessionKey, Promise<Session<MySessionData>>>
    >(true);
    // @ts-expect-error: lazy sessions must be awaited
    context.sessionKey.apple++;
    const s = await context.sessionKey;
    s.apple++;
    await s.$clear();
  });

// Inferred from initial; default key "session"; two sessions side by side.
new Bot("TOKEN")
  .extend(
    session({ storage, initial: () => ({ count: 0, tags: [] as string[] }) }),
  )
  .extend(
    session({ key: "chatSession", storage, initial: () => ({ topic: "" }) }),
  )
  .on("message", (context) => {
    expectType<Equal<typeof context.session.count, number>>(true);
    expectType<Equal<typeof context.chatSession.topic, string>>(true);
    context.session.tags.push("x");
    // @ts-expect-error: fields of one session are not on the other
    void context.chatSession.count;
  });

// Whole-session assignment under the default key, without a cast: new data
// (stored as the user's own copy), null or undefined (cleared like $clear()).
const DEFAULTS: MySessionData = { apple: 1 };
new Bot("TOKEN")
  .extend(session({ storage, initial: (): MySessionData => ({ apple: 0 }) }))
  .on("message", async (context) => {
    expectType<Equal<typeof context.session, Session<MySessionData>>>(true);
    context.session = DEFAULTS;
    context.session = { apple: 2 };
    context.session = { ...context.session, some: "maybe-empty" };
    context.session = null;
    context.session = undefined;
    context.session.apple++;
    await context.session.$clear();
    // @ts-expect-error: assigned data keeps the session's shape
    context.session = { apple: "2" };
    // @ts-expect-error: a session is an object
    context.session = 5;
    // @ts-expect-error: $clear stays a method of the session, not of any object
    void DEFAULTS.$clear;
  });

// Lazy: assigning replaces the session without reading it; reads stay a Promise.
new Bot("TOKEN")
  .extend(session({ lazy: true, storage, initial: (): MySessionData => ({ apple: 0 }) }))
  .on("message", async (context) => {
    expectType<Equal<typeof context.session, Promise<Session<MySessionData>>>>(true);
    context.session = { apple: 3 };
    context.session = null;
    const s = await context.session;
    s.apple++;
    await s.$clear();
    // @ts-expect-error: assign the data, not a Promise of it
    context.session = Promise.resolve({ apple: 3 });
    // @ts-expect-error: still a Promise when read after an assignment
    context.session.apple++;
  });

// A custom key reads the same, but TypeScript gives a property its own write
// type only under a fixed name (never in a mapped type), so whole-session
// assignment there needs the session's type, e.g. a spread of it.
new Bot("TOKEN")
  .extend(session({ key: "sessionKey", storage, initial: (): MySessionData => ({ apple: 0 }) }))
  .on("message", (context) => {
    context.sessionKey = { ...context.sessionKey, apple: 5 };
    // @ts-expect-error: plain data lacks $clear in a custom key's type
    context.sessionKey = { apple: 5 };
  });

// getSessionKey sees the ids of any update as optional; keyOf gives no key
// (no session) when one is missing.
session({
  getSessionKey: (ctx) => keyOf`chat:${ctx.chatId}`,
  initial: () => ({ topic: "" }),
});
session({
  getSessionKey: (ctx) => keyOf`${ctx.senderId}:${ctx.chatId}`,
  initial: () => ({ preferences: {} }),
});
// The spec's own form still type-checks (at run time "chat:undefined" is refused).
session({
  getSessionKey: (ctx) => `chat:${ctx.chatId}`,
  initial: () => ({ topic: "" }),
});
// @ts-expect-error: keyOf interpolates ids, not objects
keyOf`chat:${{ id: 1 }}`;
// @ts-expect-error: a session key is a string or a number
session({ getSessionKey: () => ({ id: 1 }) });
// @ts-expect-error: initial returns an object
session({ initial: () => 5 });

// Migrations: annotated input shapes are accepted; outputs must be objects.
const migrations: Migrations = {
  1: (old: { apples: number }) => ({ fruit: { apples: old.apples } }),
  2: (old: { fruit: { apples: number } }) => ({ ...old, pears: 0 }),
};
void migrations;
const notAnObject: Migrations = {
  // @ts-expect-error: a migration returns the new session object
  1: (old: { apples: number }) => old.apples,
};
void notAnObject;
const unannotated: Migrations = {
  // @ts-expect-error: the old shape must be declared to read its fields
  1: (old) => ({ apples: old.apples }),
};
void unannotated;
