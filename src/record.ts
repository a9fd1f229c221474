/**
 * What the plugin writes to storage. Plain session data when the session has
 * no `ttl` and no `migrations` (readable by the original plugin and by
 * anything else), otherwise an envelope that adds the expiry stamp and the
 * data version. Both forms are read whatever the options, so turning `ttl` or
 * `migrations` on or off keeps existing sessions.
 *
 * @module
 */

/** The envelope's marker field; its value is the envelope format version. */
export const ENVELOPE_MARK = "@gramio/session";

/** A decoded stored session. */
export interface SessionRecord {
  data: unknown;
  /** Milliseconds since the epoch after which the record reads as absent. */
  expiresAt?: number;
  /** The `migrations` version the data is at. */
  version?: number;
}

interface Envelope {
  [ENVELOPE_MARK]: 1;
  data: unknown;
  expiresAt?: number;
  version?: number;
}

/** The stored form of a record. */
export function encodeRecord(record: SessionRecord): unknown {
  if (record.expiresAt === undefined && record.version === undefined) {
    return record.data;
  }
  const envelope: Envelope = { [ENVELOPE_MARK]: 1, data: record.data };
  if (record.expiresAt !== undefined) envelope.expiresAt = record.expiresAt;
  if (record.version !== undefined) envelope.version = record.version;
  return envelope;
}

/** Reads a stored value written by {@linkcode encodeRecord} or by any older plugin. */
export function decodeRecord(stored: unknown): SessionRecord {
  if (isEnvelope(stored)) {
    const { data, expiresAt, version } = stored;
    return { data, expiresAt, version };
  }
  return { data: stored };
}

const ENVELOPE_FIELDS = new Set([ENVELOPE_MARK, "data", "expiresAt", "version"]);

/**
 * An envelope has the mark, `data`, and nothing but envelope fields, so a
 * session that happens to have a field named like the mark is still data.
 */
function isEnvelope(stored: unknown): stored is Envelope {
  if (typeof stored !== "object" || stored === null) return false;
  const envelope = stored as Partial<Envelope>;
  if (envelope[ENVELOPE_MARK] !== 1 || !Object.hasOwn(envelope, "data")) return false;
  for (const key in envelope) if (!ENVELOPE_FIELDS.has(key)) return false;
  return (envelope.expiresAt === undefined || typeof envelope.expiresAt === "number") &&
    (envelope.version === undefined || typeof envelope.version === "number");
}
