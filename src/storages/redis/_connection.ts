/**
 * One way to send a command, whatever the client's shape: ioredis `call`,
 * node-redis `sendCommand` (a cluster's routed by key), Bun's `send`. For a
 * cluster, also one command per master, which `keys()` scans.
 *
 * @module
 */

import type * as shapes from "./clients.ts";

/** Sends `[command, ...args]`, resolving with the reply. */
export type Command = (args: string[]) => Promise<unknown>;

/** How to reach the server: `command` routes by key; `masters` lists one command per master of a cluster. */
export interface Connection {
  command: Command;
  masters?: () => Promise<Command[]>;
}

/** The connection of `client`; a `TypeError` when it has none of the known shapes. */
export function connectionOf(client: shapes.RedisClientLike | shapes.RedisClusterLike): Connection {
  // ioredis also has a `sendCommand`, taking a Command object: check `call` first.
  if (typeof (client as Partial<shapes.IoRedisLike>).call === "function") {
    return ioRedisConnection(client as shapes.IoRedisLike);
  }
  if (typeof (client as Partial<shapes.NodeRedisLike>).sendCommand === "function") {
    return nodeRedisConnection(client as shapes.NodeRedisLike | shapes.NodeRedisClusterLike);
  }
  if (typeof (client as Partial<shapes.BunRedisLike>).send === "function") {
    const bun = client as shapes.BunRedisLike;
    return { command: (args) => bun.send(args[0], args.slice(1)) };
  }
  throw new TypeError(
    "redisStorage: expected an ioredis (Redis or Cluster), node-redis (client or cluster) or Bun RedisClient client",
  );
}

/** A reply as a string (node-redis may answer with bytes); `null` for none. */
export function text(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  return String(reply);
}

function ioRedisConnection(io: shapes.IoRedisLike): Connection {
  const command: Command = (args) => io.call(args[0], ...args.slice(1));
  if (typeof (io as Partial<shapes.IoRedisClusterLike>).nodes !== "function") {
    return { command: coalescing(io, () => [(io as WithStream).stream]) };
  }
  const cluster = io as shapes.IoRedisClusterLike;
  // Each master has its own socket; a command goes to the one that owns its key's slot.
  const mastersStreams = () => cluster.nodes("master").map((node) => (node as WithStream).stream);
  const nodeCommands = () =>
    cluster.nodes("master").map((node): Command => (args) => node.call(args[0], ...args.slice(1)));
  return {
    command: coalescing(io, mastersStreams),
    async masters() {
      // Before the first command ioredis knows no nodes yet: one round trip connects it.
      if (cluster.nodes("master").length === 0) await command(["PING"]);
      return nodeCommands();
    },
  };
}

/** What `coalescing` needs of an ioredis client's socket (a Node `Writable`). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** An ioredis `Redis` instance: its socket, once it has one. */
type WithStream = { stream?: Partial<Corkable> };

/**
 * ioredis sends each command with its own socket write (a system call, ~20 µs
 * in Deno), unless the client was made with `enableAutoPipelining`. With
 * updates in flight, the saves of every update whose read came back in one
 * network packet are sent in the same turn of the event loop: while a command
 * of this storage is still waiting for its reply, the socket is corked and
 * uncorked at the end of the turn, so that the commands sent meanwhile leave
 * in one write. One update at a time nothing waits, and each command is
 * written at once as before. Order, replies and errors are ioredis' own.
 * An ioredis `Cluster` sends each command on the socket of the master that
 * owns its slot: every master's socket is corked. (node-redis and Bun's
 * client already write a turn's commands together.) 100 updates in flight,
 * 1 KB sessions: from 71-82% of the rate of GET/SET by hand to 106-108%.
 */
function coalescing(
  io: shapes.IoRedisLike,
  streams: () => Array<Partial<Corkable> | undefined>,
): Command {
  let waiting = 0;
  let corked: Corkable[] | undefined;
  const uncork = () => {
    const sockets = corked!;
    corked = undefined;
    for (const socket of sockets) socket.uncork();
  };
  const settled = () => {
    waiting--;
  };
  return (args) => {
    if (waiting > 0 && corked === undefined) {
      const sockets: Corkable[] = corked = [];
      queueMicrotask(uncork); // first: whatever is corked below is uncorked
      for (const socket of streams()) {
        if (typeof socket?.cork === "function" && typeof socket.uncork === "function") {
          socket.cork();
          sockets.push(socket as Corkable);
        }
      }
    }
    const reply = io.call(args[0], ...args.slice(1));
    waiting++;
    reply.then(settled, settled);
    return reply;
  };
}

function nodeRedisConnection(
  client: shapes.NodeRedisLike | shapes.NodeRedisClusterLike,
): Connection {
  const cluster = client as Partial<shapes.NodeRedisClusterLike>;
  if (!Array.isArray(cluster.masters) || typeof cluster.nodeClient !== "function") {
    const node = client as shapes.NodeRedisLike;
    return { command: (args) => node.sendCommand(args) };
  }
  const nodeRedis = client as shapes.NodeRedisClusterLike;
  return {
    // Always the master (isReadonly false): a replica could return a stale version.
    command: (args) => nodeRedis.sendCommand(routingKey(args), false, args),
    masters: () =>
      Promise.all(nodeRedis.masters.map(async (master): Promise<Command> => {
        const node = await nodeRedis.nodeClient(master);
        return (args) => node.sendCommand(args);
      })),
  };
}

/** The key a command is routed by: after `EVALSHA sha numkeys`, else the first argument. */
function routingKey(args: string[]): string | undefined {
  return args[0] === "EVALSHA" || args[0] === "EVAL" ? args[3] : args[1];
}
