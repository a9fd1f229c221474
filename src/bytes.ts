/**
 * Byte views and comparison for typed arrays, DataViews and ArrayBuffers in
 * sessions, shared by change detection and the comparison of fields as read.
 *
 * @module
 */

/** The bytes a typed array or DataView shows, without copying them. */
export const viewedBytes = (view: ArrayBufferView): Uint8Array =>
  new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
