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
  if (typeof (io as Partial<shapes.IoRedisClusterLike>).nodes !== "function") return { command };
  const cluster = io as shapes.IoRedisClusterLike;
  const nodeCommands = () =>
    cluster.nodes("master").map((node): Command => (args) => node.call(args[0], ...args.slice(1)));
  return {
    command,
    async masters() {
      // Before the first command ioredis knows no nodes yet: one round trip connects it.
      if (cluster.nodes("master").length === 0) await command(["PING"]);
      return nodeCommands();
    },
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
