/**
 * A small plugin that keeps its state the way `@gramio/scenes` does (written
 * for these tests, not its code): one record per user under
 * `@gramio/scenes:<userId>` in a `@gramio/storage` storage, read on every
 * message, replaced with `set` at each step and removed with `delete` when the
 * scene ends. The scene here asks for a name, then an age.
 *
 * @module
 */

import { Plugin } from "gramio";
import type { ScenesStorage, ScenesStorageData } from "./gramio_storage.ts";

/** What the scene saw, for assertions. */
export interface SceneLog {
  /** Finished sign-ups: name, age, and the Date the scene started (as read back). */
  finished: { name: string; age: number; startedAt: unknown }[];
  /** What each `delete` at the end of a scene resolved to. */
  deletes: boolean[];
}

interface SignupState {
  name?: string;
  startedAt: Date;
}

/** The plugin, and the log of what it did. */
export function scenesLike(storage: ScenesStorage): { plugin: Plugin; log: SceneLog } {
  const log: SceneLog = { finished: [], deletes: [] };
  const plugin = new Plugin("scenes-like").on("message", async (context, next) => {
    const key = `@gramio/scenes:${context.from?.id ?? 0}` as const;
    const scene = await storage.get(key);
    if (!scene) {
      if (context.text !== "/signup") return next();
      const record: ScenesStorageData = {
        name: "signup",
        params: { source: "command" },
        state: { startedAt: new Date(1_700_000_000_000) } satisfies SignupState,
        stepId: 0,
        previousStepId: 0,
        firstTime: true,
      };
      await storage.set(key, record);
      return next();
    }
    const state = scene.state as SignupState;
    if (scene.stepId === 0) {
      await storage.set(key, {
        ...scene,
        state: { ...state, name: context.text ?? "" },
        stepId: 1,
        previousStepId: 0,
        firstTime: false,
      });
      return next();
    }
    log.finished.push({
      name: state.name ?? "",
      age: Number(context.text),
      startedAt: state.startedAt,
    });
    log.deletes.push(await storage.delete(key));
    log.deletes.push(await storage.delete(key)); // already gone
    return next();
  });
  return { plugin, log };
}
