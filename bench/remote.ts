/**
 * A benchmark variant's worker (`worker.ts`) seen from the main thread:
 * asked one thing at a time, each answer awaited.
 *
 * @module
 */

import type { Reply, Request } from "./worker.ts";
import type { Spec } from "./variants.ts";

/** A variant running in its own worker. */
export class Remote {
  readonly #worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  #pending: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  /** The variant's label, once started. */
  label = "";
  /** Wall µs per update in the last warmup pass, to size the timed rounds. */
  wallPerUpdate = 0;

  constructor(readonly spec: Spec) {
    this.#worker.onmessage = (event: MessageEvent<Reply>) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve(event.data);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#pending?.reject(new Error(`worker ${this.label}: ${event.message}`));
      this.#pending = undefined;
    };
  }

  /**
   * Builds the variant and warms it up: every user once unless seeded (that
   * creates the sessions), then up to `warmupUpdates` updates or `warmupMs`.
   */
  async start(warmupUpdates: number, warmupMs: number): Promise<this> {
    const ready = await this.ask(
      { type: "init", spec: this.spec, warmupUpdates, warmupMs },
      "ready",
    );
    this.label = ready.label;
    this.wallPerUpdate = ready.wallPerUpdate;
    return this;
  }

  /** Sends `request` and resolves with the reply of type `expect` (rejects on any other). */
  ask<T extends Reply["type"]>(request: Request, expect: T): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.#pending = {
        resolve: (reply) => {
          if (reply.type === expect) resolve(reply as Extract<Reply, { type: T }>);
          else {
            const why = reply.type === "failed" ? reply.error : reply.type;
            reject(new Error(`worker ${this.label || JSON.stringify(this.spec)}: ${why}`));
          }
        },
        reject,
      };
      this.#worker.postMessage(request);
    });
  }

  terminate(): void {
    this.#worker.terminate();
  }
}
