/**
 * A plugin that works the way `@gramio/media-group` does (written from a
 * reading of its mechanism, none of its code): messages with a
 * `media_group_id` are held back; the first one goes on down the chain from a
 * timer, `delay` ms after the album's last message, with `ctx.mediaGroup`
 * holding all of them, and the others never do. The timer calls `next()` and
 * drops its promise, as upstream does: the chain resumes after the middleware
 * before this plugin has returned, and outside GramIO's error handling.
 */
import { Plugin } from "gramio";

const EVENTS = [
  "message",
  "channel_post",
  "business_message",
  "edited_message",
  "edited_channel_post",
  "edited_business_message",
] as const;

interface Album {
  contexts: unknown[];
  timer: ReturnType<typeof setTimeout>;
}

/** The test stand-in for `mediaGroup()` from `@gramio/media-group`. */
export function mediaGroupLike(delay = 10) {
  const albums = new Map<string, Album>();
  const keyOf = (context: { chatId: number; mediaGroupId?: string }) =>
    `${context.chatId}-${context.mediaGroupId}`;
  return new Plugin("@gramio/media-group")
    .on(EVENTS, (context, next) => {
      if (!context.mediaGroupId) return next();
      const key = keyOf(context);
      const album = albums.get(key);
      if (album === undefined) {
        albums.set(key, { contexts: [context], timer: setTimeout(next, delay) });
        return;
      }
      album.contexts.push(context);
      clearTimeout(album.timer);
      album.timer = setTimeout(next, delay);
    })
    .derive(EVENTS, (context) => {
      if (!context.mediaGroupId) return {};
      const key = keyOf(context);
      const album = albums.get(key);
      albums.delete(key);
      return { mediaGroup: album?.contexts as { caption?: string }[] | undefined };
    });
}
