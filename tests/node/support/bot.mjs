/**
 * Real GramIO bots for package tests: updates go through
 * `bot.updates.handleUpdate` (the whole middleware chain, no network).
 *
 * @module
 */
import { Bot } from "gramio";

/** A bot that never calls getMe; `bot.errors` collects what `onError` saw. */
export function testBot() {
  const bot = new Bot("1:test", {
    info: { id: 1, is_bot: true, first_name: "Test", username: "test_bot" },
  });
  const errors = [];
  bot.onError(({ error }) => {
    errors.push(error);
  });
  return Object.assign(bot, { errors });
}

let updateId = 0;

/** A private-chat text message from user `from`. */
export function message(from, text = "hi", chatId = from) {
  updateId++;
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_700_000_000,
      chat: chatId < 0
        ? { id: chatId, type: "supergroup", title: "Group" }
        : { id: chatId, type: "private", first_name: `User ${chatId}` },
      from: { id: from, is_bot: false, first_name: `User ${from}` },
      text,
    },
  };
}
