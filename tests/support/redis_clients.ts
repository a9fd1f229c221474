/**
 * Real Redis clients for tests. Redis is expected at REDIS_URL (default
 * redis://127.0.0.1:6379). When it is unreachable, tests are skipped with a
 * loud message, unless CI is set: then they fail.
 *
 * @module
 */
import { Cluster, type ClusterOptions, Redis } from "ioredis";
import { createClient, createCluster, type RedisClusterOptions } from "redis";
import type { RedisClientLike, RedisClusterLike } from "../../src/storages/redis/clients.ts";

/** Where the tests expect Redis. */
export const REDIS_URL: string = Deno.env.get("REDIS_URL") ??
  "redis://127.0.0.1:6379";

/**
 * Whether Redis accepts connections. Logs loudly and returns false when it
 * does not and CI is unset; throws when CI is set.
 */
export async function redisAvailable(): Promise<boolean> {
  const url = new URL(REDIS_URL);
  try {
    const conn = await Deno.connect({
      hostname: url.hostname,
      port: Number(url.port || 6379),
    });
    conn.close();
    return true;
  } catch (error) {
    const message = `Redis is unreachable at ${REDIS_URL}: ${(error as Error).message}`;
    if (Deno.env.get("CI")) throw new Error(`${message} (CI is set)`);
    console.warn(
      `\n!!! SKIPPING REDIS TESTS: ${message}. Start Redis or set REDIS_URL.\n`,
    );
    return false;
  }
}

/** An open client of one flavor and how to close it. */
export interface OpenClient {
  name: string;
  client: RedisClientLike;
  close(): Promise<void>;
}

/** Opens an ioredis client that fails fast instead of retrying forever. */
export async function openIoRedis(): Promise<OpenClient> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  await client.connect();
  return {
    name: "ioredis",
    client,
    close: async () => void await client.quit(),
  };
}

/** Opens a connected node-redis client. */
export async function openNodeRedis(): Promise<OpenClient> {
  const client = createClient({
    url: REDIS_URL,
    socket: { reconnectStrategy: false },
  });
  client.on("error", () => {}); // surfaced through the failing command instead
  await client.connect();
  return { name: "node-redis", client, close: () => client.close() };
}

/** A key prefix no other run uses: `gramio-session-test:<uuid>:`. */
export function testPrefix(): string {
  return `gramio-session-test:${crypto.randomUUID()}:`;
}

/**
 * A node of the shared test cluster (`scripts/redis_cluster.sh start`, which
 * `.ci/run` runs): REDIS_CLUSTER_NODE, default 127.0.0.1:7101.
 */
export const REDIS_CLUSTER_NODE: string = Deno.env.get("REDIS_CLUSTER_NODE") ??
  "127.0.0.1:7101";

function hostPort(address: string): { host: string; port: number } {
  const [host, port] = address.split(":");
  return { host, port: Number(port) };
}

/**
 * Whether the shared test cluster accepts connections. Logs loudly and returns
 * false when it does not and CI is unset; throws when CI is set.
 */
export async function redisClusterAvailable(): Promise<boolean> {
  const { host, port } = hostPort(REDIS_CLUSTER_NODE);
  try {
    (await Deno.connect({ hostname: host, port })).close();
    return true;
  } catch (error) {
    const message = `Redis Cluster is unreachable at ${REDIS_CLUSTER_NODE}: ${
      (error as Error).message
    }`;
    if (Deno.env.get("CI")) throw new Error(`${message} (CI is set)`);
    console.warn(
      `\n!!! SKIPPING REDIS CLUSTER TESTS: ${message}. Run scripts/redis_cluster.sh start ` +
        "or set REDIS_CLUSTER_NODE.\n",
    );
    return false;
  }
}

/** An open cluster client of one flavor and how to close it. */
export interface OpenCluster {
  name: string;
  client: RedisClusterLike;
  close(): Promise<void>;
}

/** Opens an ioredis `Cluster` through one of its nodes (default: the shared test cluster). */
export async function openIoRedisCluster(
  node = REDIS_CLUSTER_NODE,
  options: ClusterOptions = {},
): Promise<OpenCluster> {
  const client = new Cluster([hostPort(node)], { lazyConnect: true, ...options });
  await client.connect();
  return {
    name: "ioredis Cluster",
    client,
    close: async () => void await client.quit(),
  };
}

/** Opens a connected node-redis cluster (`createCluster`) through one of its nodes. */
export async function openNodeRedisCluster(
  node = REDIS_CLUSTER_NODE,
  options: Partial<RedisClusterOptions> = {},
): Promise<OpenCluster> {
  const client = createCluster({ rootNodes: [{ url: `redis://${node}` }], ...options });
  client.on("error", () => {}); // surfaced through the failing command instead
  await client.connect();
  return { name: "node-redis cluster", client, close: () => client.close() };
}

/** A cluster started by {@linkcode startRedisCluster}: its nodes' PIDs by port, and how to stop it. */
export interface StartedCluster {
  pids: Map<number, number>;
  stop(): Promise<void>;
}

/**
 * Starts a private six-node cluster (three masters, one replica each) on
 * `firstPort`..`firstPort + 5` with `scripts/redis_cluster.sh`, for tests that
 * kill nodes. Returns undefined (loudly) when `redis-server` is missing outside
 * CI; throws in CI.
 */
export async function startRedisCluster(
  firstPort: number,
  nodeTimeoutMs: number,
): Promise<StartedCluster | undefined> {
  const script = new URL("../../scripts/redis_cluster.sh", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command("bash", { args: [script, ...args], stdout: "piped", stderr: "piped" })
      .output();
  let started: Deno.CommandOutput;
  try {
    started = await run("start", String(firstPort), String(nodeTimeoutMs));
  } catch (error) {
    started = {
      success: false,
      stderr: new TextEncoder().encode(String(error)),
    } as Deno.CommandOutput;
  }
  if (!started.success) {
    const message = `cannot start a Redis Cluster on ${firstPort}: ${
      new TextDecoder().decode(started.stderr).trim()
    }`;
    if (Deno.env.get("CI")) throw new Error(`${message} (CI is set)`);
    console.warn(`\n!!! SKIPPING REDIS CLUSTER FAILOVER TEST: ${message}\n`);
    return undefined;
  }
  const dir = new TextDecoder().decode(started.stdout).trim();
  const pids = new Map<number, number>();
  for (let port = firstPort; port < firstPort + 6; port++) {
    pids.set(port, Number(await Deno.readTextFile(`${dir}/${port}.pid`)));
  }
  return {
    pids,
    async stop() {
      const stopped = await run("stop", String(firstPort));
      if (!stopped.success) throw new Error(new TextDecoder().decode(stopped.stderr));
    },
  };
}
