/**
 * Type tests, run by `deno check .` (part of `deno task test`): it fails if a
 * `@ts-expect-error` line stops being an error or a line here stops
 * type-checking. Nothing here runs.
 */
import { Bot } from "gramio";
import { inMemoryStorage, type Migrations, type Session, session } from "../mod.ts";

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

// getSessionKey sees the ids of any update as optional.
session({
  getSessionKey: (ctx) => `chat:${ctx.chatId}`,
  initial: () => ({ topic: "" }),
});
session({
  getSessionKey: (ctx) => `${ctx.senderId}:${ctx.chatId}`,
  initial: () => ({ preferences: {} }),
});
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
