/**
 * An in-memory body kept as the pieces it arrived in (HTTP body chunks, network reads) on the
 * way through a node that only moves it: the gateway's request body into an event frame, an
 * inline reply's body from the pipe into the HTTP response. Joining them costs a copy and, worse,
 * a fresh 64 KiB ArrayBuffer per body: V8 counts ArrayBuffer memory against the old generation's
 * limit, so it starts full (mark-compact) collections in proportion to it (on the 64 KiB echo
 * the gateway node ran one every ~80-100 requests with two joins per request, one every
 * ~160 without).
 *
 * On the events and replies that users and senders see, `data` stays what every reader expects,
 * the whole body as one Uint8Array: it is a getter that joins the pieces the first time something
 * reads it (and keeps the result). Writers that take pieces ({@link dataPieces}) never join them.
 * The wire messages carry theirs in plain `dataParts` fields instead: defining an accessor costs
 * a runtime call, and nothing outside the pipe sees those objects.
 */

const kPieces = Symbol('restpipe.bodyPieces');

/** Anything that carries an in-memory body in `data` (an event, a reply). */
export interface HasData {
  data: Uint8Array;
}

type WithPieces = HasData & { [kPieces]?: Pieces };

interface Pieces {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

/**
 * Makes `target.data` the body held as `parts` (in order, `length` bytes in all), joined only
 * when read. One part is set as it is. Returns `target`.
 */
export function setDataPieces<T extends HasData>(target: T, parts: readonly Uint8Array[], length: number): T {
  if (parts.length === 1) {
    target.data = parts[0]!;
    return target;
  }
  // Not enumerable: a copy made by spreading or a deep comparison sees only `data`.
  Object.defineProperty(target, kPieces, { value: { parts, length }, configurable: true, enumerable: false, writable: true });
  // One shared accessor: a closure pair per body cost three times as much to define.
  Object.defineProperty(target, 'data', DATA_ACCESSOR);
  return target;
}

const DATA_ACCESSOR: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: WithPieces): Uint8Array {
    const pieces = this[kPieces]!;
    const joined = Buffer.concat(pieces.parts as Uint8Array[], pieces.length);
    settle(this, joined);
    return joined;
  },
  set(this: WithPieces, value: Uint8Array) {
    settle(this, value);
  },
};

/** `data` becomes a plain property again, holding `value`. */
function settle(target: WithPieces, value: Uint8Array): void {
  Object.defineProperty(target, 'data', { value, configurable: true, enumerable: true, writable: true });
  target[kPieces] = undefined;
}

/** The body's pieces when it is held as more than one and not joined yet; else undefined (read `data`). */
export function dataPieces(target: HasData): readonly Uint8Array[] | undefined {
  return (target as WithPieces)[kPieces]?.parts;
}

/** The body's size in bytes, without joining its pieces. */
export function dataLength(target: HasData): number {
  return (target as WithPieces)[kPieces]?.length ?? target.data.byteLength;
}

/** The total size of `parts`. */
export function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}
