/**
 * A plugin that works the way `@gramio/prompt` does (written from a reading of
 * its mechanism, none of its code): `derive` gives each update `ctx.prompt()`
 * and `ctx.wait()`, which park a promise in a `Map` keyed by the sender; a
 * middleware on the same update types resolves the sender's pending promise
 * with the new update's context and does NOT call `next()`. It carries the
 * upstream plugin's name, which is how `session()` recognises it; pass another
 * `name` to play a waiting plugin the session does not know.
 */
import { Plugin } from "gramio";

/** The update types it listens to, as upstream. */
const EVENTS = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "callback_query",
] as const;

/** What an answer looks like to the waiting handler (the answering update's context). */
export interface PromptAnswer {
  readonly text?: string;
  readonly data?: string;
  readonly senderId?: number;
  readonly updateId?: number;
}

/** Options of {@linkcode promptLike}. */
export interface PromptLikeOptions {
  /** The plugin name; default `"@gramio/prompt"`. */
  name?: string;
  /** How the question is sent; default `ctx.send(text)` (unit tests without a network stub it). */
  send?: (ctx: { send(text: string): Promise<unknown> }, text: string) => unknown;
  /** Called once a sender's promise is pending, so tests can send the answer then. */
  onPending?: (senderId: number) => void;
}

/** The test stand-in for `prompt()` from `@gramio/prompt`. */
export function promptLike(options: PromptLikeOptions = {}) {
  const pending = new Map<number, (answer: PromptAnswer) => void>();
  const send = options.send ?? ((ctx, text) => ctx.send(text));
  return new Plugin(options.name ?? "@gramio/prompt")
    .derive(EVENTS, (context) => {
      const id = context.senderId ?? 0;
      const wait = (): Promise<PromptAnswer> =>
        new Promise((resolve) => {
          pending.set(id, resolve);
          options.onPending?.(id);
        });
      const prompt = async (text: string): Promise<PromptAnswer> => {
        await send(context as unknown as { send(text: string): Promise<unknown> }, text);
        return await wait();
      };
      return { prompt, wait };
    })
    .on(EVENTS, (context, next) => {
      const id = context.senderId ?? 0;
      const resolve = pending.get(id);
      if (resolve === undefined) return next();
      pending.delete(id);
      resolve(context as unknown as PromptAnswer); // the answer stops here
    });
}
