/**
 * Synthetic Telegram updates for the benchmarks: one private text message per
 * user, the same shape for every framework. No network is involved anywhere.
 *
 * @module
 */

/** Number of distinct users of {@linkcode batch} (bench/copies.ts): BENCH_USERS, default 1000. */
export const USERS: number = (() => {
  const value = Number(Deno.env.get("BENCH_USERS"));
  return Number.isInteger(value) && value > 0 ? value : 1_000;
})();

/** A private-chat text message update, as the Bot API sends it. */
export interface MessageUpdate {
  update_id: number;
  message: {
    message_id: number;
    date: number;
    chat: { id: number; type: "private"; first_name: string };
    from: {
      id: number;
      is_bot: false;
      first_name: string;
      language_code: string;
    };
    text: string;
  };
}

/** The bot's own user, given to every framework so none calls getMe. */
export const BOT_INFO = {
  id: 1,
  is_bot: true as const,
  first_name: "Bench",
  username: "bench_bot",
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
};

let nextUpdateId = 0;

/** One message update from user `userId` (ids start at 1_000_001 so they look like real ids). */
export function messageUpdate(userId: number): MessageUpdate {
  const id = ++nextUpdateId;
  return {
    update_id: id,
    message: {
      message_id: id,
      date: 1_700_000_000,
      chat: { id: userId, type: "private", first_name: `User ${userId}` },
      from: {
        id: userId,
        is_bot: false,
        first_name: `User ${userId}`,
        language_code: "en",
      },
      text: "hello",
    },
  };
}

/** The user id of the `i`-th benchmark user. */
export function userId(i: number): number {
  return 1_000_001 + (i % USERS);
}

/** A prime that shares no factor with any user count made of 2s and 5s (1,000, 200, 1,000,000). */
const STRIDE = 7_919;

/**
 * The user of the `i`-th update among `users` users: consecutive updates are
 * of users far apart in the store (as in a real bot), and `users` updates in
 * a row reach every user once.
 */
export function scatteredUserId(i: number, users: number): number {
  return 1_000_001 + ((i % users) * STRIDE) % users;
}

/** `count` updates, the `first`-th on, over `users` users ({@linkcode scatteredUserId}). */
export function updatesOf(users: number, count: number, first = 0): MessageUpdate[] {
  const out: MessageUpdate[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = messageUpdate(scatteredUserId(first + i, users));
  return out;
}

/**
 * A batch of `count` updates cycling through the users from `first` on. Every
 * variant gets its own copy, so no framework sees objects another one touched.
 */
export function batch(count: number, first = 0): MessageUpdate[] {
  const out: MessageUpdate[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = messageUpdate(userId(first + i));
  return out;
}
