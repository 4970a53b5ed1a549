/**
 * RSocket 1.0 frame codec for the WebSocket sync transport: one frame per WebSocket binary
 * message, without the 24-bit length prefix used on TCP. Pure functions over Uint8Array/DataView
 * (no Buffer), so the browser client and the server share it.
 *
 * Header: stream id (uint32, high bit reserved) + uint16 of frame type (6 bits) and flags (10 bits).
 * Frames with the METADATA flag carry a 24-bit metadata length, the metadata, then the data.
 */

export const FrameType = {
  SETUP: 0x01,
  LEASE: 0x02,
  KEEPALIVE: 0x03,
  REQUEST_RESPONSE: 0x04,
  REQUEST_FNF: 0x05,
  REQUEST_STREAM: 0x06,
  REQUEST_CHANNEL: 0x07,
  REQUEST_N: 0x08,
  CANCEL: 0x09,
  PAYLOAD: 0x0a,
  ERROR: 0x0b,
  METADATA_PUSH: 0x0c,
  RESUME: 0x0d,
  RESUME_OK: 0x0e,
  EXT: 0x3f,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlags = {
  IGNORE: 0x200,
  METADATA: 0x100,
  /** FOLLOWS on request/payload frames; RESPOND on KEEPALIVE; RESUME_ENABLE on SETUP. */
  FOLLOWS: 0x80,
  RESPOND: 0x80,
  RESUME_ENABLE: 0x80,
  /** COMPLETE on PAYLOAD; LEASE on SETUP. */
  COMPLETE: 0x40,
  LEASE: 0x40,
  NEXT: 0x20,
} as const;

/** RSocket error codes (connection-level < 0x200, stream-level ≥ 0x201). */
export const RSocketErrorCode = {
  INVALID_SETUP: 0x001,
  UNSUPPORTED_SETUP: 0x002,
  REJECTED_SETUP: 0x003,
  REJECTED_RESUME: 0x004,
  CONNECTION_ERROR: 0x101,
  CONNECTION_CLOSE: 0x102,
  APPLICATION_ERROR: 0x201,
  REJECTED: 0x202,
  CANCELED: 0x203,
  INVALID: 0x204,
} as const;

/** REQUEST_N of 2^31−1 means "unbounded" in RSocket. */
export const RSOCKET_MAX_REQUEST_N = 0x7fffffff;
const HEADER = 6;
const EMPTY = new Uint8Array(0);

/**
 * One decoded frame. `B` is the byte type of its payload fields: decoding a Node Buffer yields
 * Buffer views, so the server reads them as `RSocketFrame<Buffer>`.
 */
export type RSocketFrame<B extends Uint8Array = Uint8Array> =
  | {
      type: typeof FrameType.SETUP;
      streamId: 0;
      flags: number;
      majorVersion: number;
      minorVersion: number;
      keepAlive: number;
      lifetime: number;
      resumeToken: B | null;
      metadataMimeType: string;
      dataMimeType: string;
      metadata: B | null;
      data: B;
    }
  | { type: typeof FrameType.KEEPALIVE; streamId: 0; flags: number; lastReceivedPosition: bigint; data: B }
  | {
      type: typeof FrameType.REQUEST_STREAM | typeof FrameType.REQUEST_CHANNEL;
      streamId: number;
      flags: number;
      requestN: number;
      metadata: B | null;
      data: B;
    }
  | {
      type: typeof FrameType.REQUEST_RESPONSE | typeof FrameType.REQUEST_FNF | typeof FrameType.PAYLOAD;
      streamId: number;
      flags: number;
      metadata: B | null;
      data: B;
    }
  | { type: typeof FrameType.REQUEST_N; streamId: number; flags: number; requestN: number }
  | { type: typeof FrameType.CANCEL; streamId: number; flags: number }
  | { type: typeof FrameType.ERROR; streamId: number; flags: number; code: number; message: string }
  | { type: typeof FrameType.METADATA_PUSH | typeof FrameType.LEASE | typeof FrameType.RESUME | typeof FrameType.RESUME_OK; streamId: number; flags: number; body: B }
  | { type: typeof FrameType.EXT; streamId: number; flags: number; extendedType: number; body: B };

export class FrameDecodeError extends Error {
  constructor(message: string) {
    super(`Invalid RSocket frame: ${message}`);
    this.name = 'FrameDecodeError';
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const ascii = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

/** Decodes one frame (a whole WebSocket message). Throws FrameDecodeError on malformed input. */
export function decodeRSocketFrame(buf: Uint8Array): RSocketFrame {
  if (buf.length < HEADER) throw new FrameDecodeError(`${buf.length} bytes is shorter than the 6-byte header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const streamId = view.getUint32(0) & 0x7fffffff;
  const typeAndFlags = view.getUint16(4);
  const type = typeAndFlags >>> 10;
  const flags = typeAndFlags & 0x3ff;
  let offset = HEADER;
  const need = (n: number, what: string): void => {
    if (offset + n > buf.length) throw new FrameDecodeError(`truncated ${what} (frame type ${type}, ${buf.length} bytes)`);
  };
  const readMetadataAndData = (): { metadata: Uint8Array | null; data: Uint8Array } => {
    let metadata: Uint8Array | null = null;
    if (flags & FrameFlags.METADATA) {
      need(3, 'metadata length');
      const len = (view.getUint8(offset) << 16) | view.getUint16(offset + 1);
      offset += 3;
      need(len, 'metadata');
      metadata = buf.subarray(offset, offset + len);
      offset += len;
    }
    return { metadata, data: buf.subarray(offset) };
  };

  switch (type) {
    case FrameType.SETUP: {
      need(12, 'SETUP fields');
      const majorVersion = view.getUint16(offset);
      const minorVersion = view.getUint16(offset + 2);
      const keepAlive = view.getUint32(offset + 4) & 0x7fffffff;
      const lifetime = view.getUint32(offset + 8) & 0x7fffffff;
      offset += 12;
      let resumeToken: Uint8Array | null = null;
      if (flags & FrameFlags.RESUME_ENABLE) {
        need(2, 'resume token length');
        const len = view.getUint16(offset);
        offset += 2;
        need(len, 'resume token');
        resumeToken = buf.subarray(offset, offset + len);
        offset += len;
      }
      need(1, 'metadata MIME type length');
      const mdLen = view.getUint8(offset++);
      need(mdLen, 'metadata MIME type');
      const metadataMimeType = ascii(buf.subarray(offset, offset + mdLen));
      offset += mdLen;
      need(1, 'data MIME type length');
      const dLen = view.getUint8(offset++);
      need(dLen, 'data MIME type');
      const dataMimeType = ascii(buf.subarray(offset, offset + dLen));
      offset += dLen;
      return { type, streamId: 0, flags, majorVersion, minorVersion, keepAlive, lifetime, resumeToken, metadataMimeType, dataMimeType, ...readMetadataAndData() };
    }
    case FrameType.KEEPALIVE:
      need(8, 'last received position');
      return { type, streamId: 0, flags, lastReceivedPosition: view.getBigUint64(offset) & 0x7fffffffffffffffn, data: buf.subarray(offset + 8) };
    case FrameType.REQUEST_STREAM:
    case FrameType.REQUEST_CHANNEL: {
      need(4, 'initial request N');
      const requestN = view.getUint32(offset) & 0x7fffffff;
      offset += 4;
      return { type, streamId, flags, requestN, ...readMetadataAndData() };
    }
    case FrameType.REQUEST_RESPONSE:
    case FrameType.REQUEST_FNF:
    case FrameType.PAYLOAD:
      return { type, streamId, flags, ...readMetadataAndData() };
    case FrameType.REQUEST_N:
      need(4, 'request N');
      return { type, streamId, flags, requestN: view.getUint32(offset) & 0x7fffffff };
    case FrameType.CANCEL:
      return { type, streamId, flags };
    case FrameType.ERROR:
      need(4, 'error code');
      return { type, streamId, flags, code: view.getUint32(offset), message: utf8Decoder.decode(buf.subarray(offset + 4)) };
    case FrameType.METADATA_PUSH:
    case FrameType.LEASE:
    case FrameType.RESUME:
    case FrameType.RESUME_OK:
      return { type, streamId, flags, body: buf.subarray(offset) };
    case FrameType.EXT:
      need(4, 'extended type');
      return { type, streamId, flags, extendedType: view.getUint32(offset) & 0x7fffffff, body: buf.subarray(offset + 4) };
    default:
      throw new FrameDecodeError(`unknown frame type ${type}`);
  }
}

function header(size: number, streamId: number, type: FrameTypeCode, flags: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  view.setUint32(0, streamId & 0x7fffffff);
  view.setUint16(4, ((type << 10) | (flags & 0x3ff)) & 0xffff);
  return { buf, view };
}

function withMetadata(streamId: number, type: FrameTypeCode, flags: number, fixed: Uint8Array | null, metadata: Uint8Array | null, data: Uint8Array | null): Uint8Array {
  const fixedLen = fixed?.length ?? 0;
  const mdLen = metadata ? 3 + metadata.length : 0;
  const dataLen = data?.length ?? 0;
  if (metadata && metadata.length > 0xffffff) throw new RangeError('RSocket metadata is limited to 16 MiB');
  const { buf, view } = header(HEADER + fixedLen + mdLen + dataLen, streamId, type, flags | (metadata ? FrameFlags.METADATA : 0));
  let offset = HEADER;
  if (fixed) {
    buf.set(fixed, offset);
    offset += fixed.length;
  }
  if (metadata) {
    view.setUint8(offset, metadata.length >>> 16);
    view.setUint16(offset + 1, metadata.length & 0xffff);
    offset += 3;
    buf.set(metadata, offset);
    offset += metadata.length;
  }
  if (data) buf.set(data, offset);
  return buf;
}

/** PAYLOAD frame; `next` and `complete` set the N and C flags. */
export function encodePayloadFrame(streamId: number, p: { data: Uint8Array | null; metadata?: Uint8Array | null; next?: boolean; complete?: boolean }): Uint8Array {
  const flags = ((p.next ?? true) ? FrameFlags.NEXT : 0) | (p.complete ? FrameFlags.COMPLETE : 0);
  return withMetadata(streamId, FrameType.PAYLOAD, flags, null, p.metadata ?? null, p.data);
}

/** PAYLOAD with only the COMPLETE flag: the stream ended normally. */
export function encodeCompleteFrame(streamId: number): Uint8Array {
  return header(HEADER, streamId, FrameType.PAYLOAD, FrameFlags.COMPLETE).buf;
}

export function encodeErrorFrame(streamId: number, code: number, message: string): Uint8Array {
  const msg = utf8.encode(message);
  const { buf, view } = header(HEADER + 4 + msg.length, streamId, FrameType.ERROR, 0);
  view.setUint32(HEADER, code >>> 0);
  buf.set(msg, HEADER + 4);
  return buf;
}

export function encodeKeepAliveFrame(respond: boolean, data: Uint8Array = EMPTY, lastReceivedPosition = 0n): Uint8Array {
  const { buf, view } = header(HEADER + 8 + data.length, 0, FrameType.KEEPALIVE, respond ? FrameFlags.RESPOND : 0);
  view.setBigUint64(HEADER, lastReceivedPosition);
  buf.set(data, HEADER + 8);
  return buf;
}

export function encodeRequestNFrame(streamId: number, n: number): Uint8Array {
  const { buf, view } = header(HEADER + 4, streamId, FrameType.REQUEST_N, 0);
  view.setUint32(HEADER, Math.min(n, RSOCKET_MAX_REQUEST_N));
  return buf;
}

export function encodeCancelFrame(streamId: number): Uint8Array {
  return header(HEADER, streamId, FrameType.CANCEL, 0).buf;
}

export function encodeRequestStreamFrame(streamId: number, requestN: number, metadata: Uint8Array | null, data: Uint8Array | null): Uint8Array {
  const fixed = new Uint8Array(4);
  new DataView(fixed.buffer).setUint32(0, Math.min(requestN, RSOCKET_MAX_REQUEST_N));
  return withMetadata(streamId, FrameType.REQUEST_STREAM, 0, fixed, metadata, data);
}

/** SETUP frame: the first frame a client sends (keepalive interval and lifetime in ms). */
export function encodeSetupFrame(s: {
  keepAlive: number;
  lifetime: number;
  metadataMimeType: string;
  dataMimeType: string;
  metadata: Uint8Array | null;
  data: Uint8Array | null;
  majorVersion?: number;
  minorVersion?: number;
  resumeToken?: Uint8Array;
}): Uint8Array {
  const mdMime = utf8.encode(s.metadataMimeType);
  const dataMime = utf8.encode(s.dataMimeType);
  const resumeLen = s.resumeToken ? 2 + s.resumeToken.length : 0;
  const fixed = new Uint8Array(12 + resumeLen + 2 + mdMime.length + dataMime.length);
  const view = new DataView(fixed.buffer);
  view.setUint16(0, s.majorVersion ?? 1);
  view.setUint16(2, s.minorVersion ?? 0);
  view.setUint32(4, s.keepAlive);
  view.setUint32(8, s.lifetime);
  let o = 12;
  if (s.resumeToken) {
    view.setUint16(o, s.resumeToken.length);
    fixed.set(s.resumeToken, o + 2);
    o += resumeLen;
  }
  view.setUint8(o++, mdMime.length);
  fixed.set(mdMime, o);
  o += mdMime.length;
  view.setUint8(o++, dataMime.length);
  fixed.set(dataMime, o);
  return withMetadata(0, FrameType.SETUP, s.resumeToken ? FrameFlags.RESUME_ENABLE : 0, fixed, s.metadata, s.data);
}
