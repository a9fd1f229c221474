/**
 * How deeply a session may nest, and the error for data nested deeper: the
 * one limit copies, comparisons, prints and the save's depth check share.
 *
 * @module
 */

/**
 * How deeply a session may nest (the session object is level 1). Reading back
 * is recursive in every storage: V8's deserializer (Deno KV, chunked
 * sessions) fails at about 2,700 levels of objects (3,600 of arrays) and
 * devalue (Redis) overflows the stack at about 1,700, so sessions deeper than
 * this are refused when saved, with the old value kept.
 */
export const MAX_DEPTH = 1000;

/** A value nested deeper than {@linkcode MAX_DEPTH}. */
export class DepthError extends RangeError {
  constructor(readonly depth: number, readonly field: string | undefined) {
    super(
      `the session is nested ${
        depth > MAX_DEPTH + 1 ? depth : `more than ${MAX_DEPTH}`
      } levels deep${
        field === undefined ? "" : ` (field "${field}")`
      }; the limit is ${MAX_DEPTH} levels, so that every storage can read it back. ` +
        "Nothing was written; keep long chains (histories, linked lists) in arrays instead of nesting them.",
    );
    this.name = "DepthError";
  }
}
