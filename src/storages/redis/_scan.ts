/**
 * Listing session keys with `SCAN MATCH <prefix>*`: on one server, or on
 * every master of a cluster, checked against the slot map the cluster itself
 * reports.
 *
 * @module
 */

import { type Command, type Connection, text } from "./_connection.ts";

/**
 * Every key under `prefix`, without it, once each. A cluster: every master in
 * turn, each in `count`-sized batches.
 */
export async function* scanKeys(
  connection: Connection,
  prefix: string,
  count: string,
): AsyncIterable<string> {
  const match = globEscape(prefix) + "*";
  const nodes = connection.masters ? await scanTargets(connection.masters) : [connection.command];
  // SCAN may return a key twice (rehashing, a slot moving between masters):
  // remember what was yielded.
  const seen = new Set<string>();
  let node = 0;
  let cursor = "0";
  do {
    const reply = await nodes[node]([
      "SCAN",
      cursor,
      "MATCH",
      match,
      "COUNT",
      count,
    ]) as [unknown, unknown[]];
    cursor = text(reply[0]) ?? "0";
    for (const item of reply[1]) {
      const key = text(item)?.slice(prefix.length);
      if (key === undefined || seen.has(key)) continue;
      seen.add(key);
      yield key;
    }
  } while (cursor !== "0" || ++node < nodes.length);
}

/**
 * One command per master of the cluster, checked against the slot map the
 * cluster itself reports: a client whose view is stale (a failover it has not
 * noticed yet) would otherwise scan too few nodes and list too few sessions.
 */
async function scanTargets(masters: () => Promise<Command[]>): Promise<Command[]> {
  const nodes = await masters();
  if (nodes.length === 0) {
    throw new Error(
      "redisStorage keys(): the cluster client knows no masters; connect it before listing",
    );
  }
  const slots = await nodes[0](["CLUSTER", "SLOTS"]) as unknown[][];
  const owners = new Set(slots.map((range) => text((range[2] as unknown[])[2])));
  const ids = await Promise.all(nodes.map((node) => node(["CLUSTER", "MYID"])));
  const targets = nodes.filter((_, i) => owners.delete(text(ids[i])));
  if (owners.size > 0) {
    throw new Error(
      `redisStorage keys(): ${owners.size} master(s) owning slots are not among the client's nodes ` +
        "(a failover or resharding in progress?); call keys() again once the cluster is stable",
    );
  }
  return targets;
}

function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, "\\$&");
}
