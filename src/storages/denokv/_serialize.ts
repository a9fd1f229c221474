/**
 * The serialization of a chunked session: `node:v8`'s, which is the
 * structured clone Deno KV applies to its values, so a session reads back the
 * same whether it was stored whole or in chunks.
 *
 * @module
 */

import { DefaultDeserializer, serialize } from "node:v8";
import { SessionDataError } from "../../errors.ts";

/** The bytes of `value`, to be split into chunks. */
export function serializeForChunks(key: string, value: unknown): Uint8Array {
  const bytes = attempt(key, value);
  if (bytes instanceof Uint8Array) return bytes;
  throw new RangeError(
    `Deno KV storage: session "${key}" needs splitting into chunks (a KV value holds 65536 bytes), ` +
      "but node:v8 serialize() is not available in this runtime. Keep the session smaller.",
    { cause: bytes },
  );
}

/**
 * Like {@linkcode serializeForChunks}, but `undefined` where `node:v8` is
 * stubbed (Deno Deploy's classic runtime), so that KV itself can be tried.
 */
export function serializeIfAvailable(key: string, value: unknown): Uint8Array | undefined {
  const bytes = attempt(key, value);
  return bytes instanceof Uint8Array ? bytes : undefined;
}

/** The bytes of `value`, or the error of a stubbed `node:v8`. */
function attempt(key: string, value: unknown): Uint8Array | Error {
  try {
    return serialize(value);
  } catch (error) {
    // Deno Deploy's classic runtime stubs node:v8 ("Not implemented: v8.serialize").
    if (error instanceof Error && /not implemented/i.test(error.message)) return error;
    // A value no structured clone holds (a function, a symbol): misuse, as
    // Deno KV itself reports it for a session stored whole.
    if (error instanceof RangeError) throw error;
    throw new TypeError(
      `Deno KV storage: cannot store the session "${key}": ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
}

/**
 * Reads a chunked session. `node:v8` makes each typed array a view into the
 * bytes it reads (the whole session), so each gets its own copy: one small
 * array must not keep, or expose through `.buffer`, every other field.
 */
export function deserializeChunks(key: string, bytes: Uint8Array): unknown {
  try {
    const reader = new (OwningDeserializer ??= owningDeserializer())(bytes);
    reader.readHeader();
    return reader.readValue();
  } catch (error) {
    throw new SessionDataError(
      key,
      `undecodable (Deno KV chunks: ${String((error as Error)?.message ?? error).split("\n")[0]})`,
    );
  }
}

let OwningDeserializer: typeof DefaultDeserializer | undefined;

/** Made on first use: runtimes that stub `node:v8` may lack the class. */
function owningDeserializer(): typeof DefaultDeserializer {
  // `_readHostObject` reads typed arrays (Node's format); it is not in the types.
  const readView = (DefaultDeserializer.prototype as unknown as {
    _readHostObject(this: DefaultDeserializer): ArrayBufferView;
  })._readHostObject;
  return class extends DefaultDeserializer {
    _readHostObject(): unknown {
      const view = readView.call(this);
      const buffer = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
      if (view instanceof DataView) return new DataView(buffer);
      return new (view.constructor as new (buffer: ArrayBufferLike) => ArrayBufferView)(buffer);
    }
  };
}
