/**
 * Versions this storage hands out: the head's versionstamp, marked when the
 * session is plain (stored whole, no chunks). A save on a plain version needs
 * no check for chunks. Any other version (a chunked session's, or a bare
 * versionstamp from elsewhere) takes the cautious path that removes chunks
 * left behind.
 *
 * @module
 */

/** Ends the version of a plain session, after the head's versionstamp. */
const PLAIN_MARK = "+plain";

/** The version of a plain session whose head is at `versionstamp`. */
export function plainVersion(versionstamp: string): string {
  return versionstamp + PLAIN_MARK;
}

/** Whether `version` is a plain session's. */
export function isPlainVersion(version: string | null | undefined): version is string {
  return version?.endsWith(PLAIN_MARK) === true;
}

/** The head's versionstamp in `version` (`null` and `undefined` as they are). */
export function versionstampOf<V extends string | null | undefined>(version: V): V {
  return (isPlainVersion(version) ? version.slice(0, -PLAIN_MARK.length) : version) as V;
}
