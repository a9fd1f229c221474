/**
 * Real Redis clients for tests. Redis is expected at REDIS_URL (default
 * redis://127.0.0.1:6379). When it is unreachable, tests are skipped with a
 * loud message, unless CI is set: then they fail.
 *
 * @module
 */
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { RedisClientLike } from "../../src/storages/redis.ts";

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
