/**
 * RSocket 1.0 frame codec for the WebSocket transport: one frame per WebSocket binary message,
 * without the 24-bit length prefix used on TCP. Pure functions, no I/O.
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

export const Flags = {
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
export const ErrorCode = {
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

export const MAX_REQUEST_N = 0x7fffffff;
const HEADER = 6;

export type Frame =
  | {
      type: typeof FrameType.SETUP;
      streamId: 0;
      flags: number;
      majorVersion: number;
      minorVersion: number;
      keepAlive: number;
      lifetime: number;
      resumeToken: Buffer | null;
      metadataMimeType: string;
      dataMimeType: string;
      metadata: Buffer | null;
      data: Buffer;
    }
  | { type: typeof FrameType.KEEPALIVE; streamId: 0; flags: number; lastReceivedPosition: bigint; data: Buffer }
  | {
      type: typeof FrameType.REQUEST_STREAM | typeof FrameType.REQUEST_CHANNEL;
      streamId: number;
      flags: number;
      requestN: number;
      metadata: Buffer | null;
      data: Buffer;
    }
  | {
      type: typeof FrameType.REQUEST_RESPONSE | typeof FrameType.REQUEST_FNF | typeof FrameType.PAYLOAD;
      streamId: number;
      flags: number;
      metadata: Buffer | null;
      data: Buffer;
    }
  | { type: typeof FrameType.REQUEST_N; streamId: number; flags: number; requestN: number }
  | { type: typeof FrameType.CANCEL; streamId: number; flags: number }
  | { type: typeof FrameType.ERROR; streamId: number; flags: number; code: number; message: string }
  | { type: typeof FrameType.METADATA_PUSH | typeof FrameType.LEASE | typeof FrameType.RESUME | typeof FrameType.RESUME_OK; streamId: number; flags: number; body: Buffer }
  | { type: typeof FrameType.EXT; streamId: number; flags: number; extendedType: number; body: Buffer };

export class FrameDecodeError extends Error {
  constructor(message: string) {
    super(`Invalid RSocket frame: ${message}`);
    this.name = 'FrameDecodeError';
  }
}

/** Decodes one frame (a whole WebSocket message). Throws FrameDecodeError on malformed input. */
export function decodeFrame(buf: Buffer): Frame {
  if (buf.length < HEADER) throw new FrameDecodeError(`${buf.length} bytes is shorter than the 6-byte header`);
  const streamId = buf.readUInt32BE(0) & 0x7fffffff;
  const typeAndFlags = buf.readUInt16BE(4);
  const type = typeAndFlags >>> 10;
  const flags = typeAndFlags & 0x3ff;
  let offset = HEADER;
  const need = (n: number, what: string) => {
    if (offset + n > buf.length) throw new FrameDecodeError(`truncated ${what} (frame type ${type}, ${buf.length} bytes)`);
  };
  const readMetadataAndData = (): { metadata: Buffer | null; data: Buffer } => {
    let metadata: Buffer | null = null;
    if (flags & Flags.METADATA) {
      need(3, 'metadata length');
      const len = buf.readUIntBE(offset, 3);
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
      const majorVersion = buf.readUInt16BE(offset);
      const minorVersion = buf.readUInt16BE(offset + 2);
      const keepAlive = buf.readUInt32BE(offset + 4) & 0x7fffffff;
      const lifetime = buf.readUInt32BE(offset + 8) & 0x7fffffff;
      offset += 12;
      let resumeToken: Buffer | null = null;
      if (flags & Flags.RESUME_ENABLE) {
        need(2, 'resume token length');
        const len = buf.readUInt16BE(offset);
        offset += 2;
        need(len, 'resume token');
        resumeToken = buf.subarray(offset, offset + len);
        offset += len;
      }
      const readMime = (what: string) => {
        need(1, `${what} length`);
        const len = buf.readUInt8(offset);
        offset += 1;
        need(len, what);
        const s = buf.toString('ascii', offset, offset + len);
        offset += len;
        return s;
      };
      const metadataMimeType = readMime('metadata MIME type');
      const dataMimeType = readMime('data MIME type');
      const { metadata, data } = readMetadataAndData();
      return { type, streamId: 0, flags, majorVersion, minorVersion, keepAlive, lifetime, resumeToken, metadataMimeType, dataMimeType, metadata, data };
    }
    case FrameType.KEEPALIVE: {
      need(8, 'last received position');
      const lastReceivedPosition = buf.readBigUInt64BE(offset) & 0x7fffffffffffffffn;
      return { type, streamId: 0, flags, lastReceivedPosition, data: buf.subarray(offset + 8) };
    }
    case FrameType.REQUEST_STREAM:
    case FrameType.REQUEST_CHANNEL: {
      need(4, 'initial request N');
      const requestN = buf.readUInt32BE(offset) & 0x7fffffff;
      offset += 4;
      return { type, streamId, flags, requestN, ...readMetadataAndData() };
    }
    case FrameType.REQUEST_RESPONSE:
    case FrameType.REQUEST_FNF:
    case FrameType.PAYLOAD:
      return { type, streamId, flags, ...readMetadataAndData() };
    case FrameType.REQUEST_N:
      need(4, 'request N');
      return { type, streamId, flags, requestN: buf.readUInt32BE(offset) & 0x7fffffff };
    case FrameType.CANCEL:
      return { type, streamId, flags };
    case FrameType.ERROR:
      need(4, 'error code');
      return { type, streamId, flags, code: buf.readUInt32BE(offset), message: buf.toString('utf8', offset + 4) };
    case FrameType.METADATA_PUSH:
    case FrameType.LEASE:
    case FrameType.RESUME:
    case FrameType.RESUME_OK:
      return { type, streamId, flags, body: buf.subarray(offset) };
    case FrameType.EXT:
      need(4, 'extended type');
      return { type, streamId, flags, extendedType: buf.readUInt32BE(offset) & 0x7fffffff, body: buf.subarray(offset + 4) };
    default:
      throw new FrameDecodeError(`unknown frame type ${type}`);
  }
}

function header(size: number, streamId: number, type: FrameTypeCode, flags: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32BE(streamId & 0x7fffffff, 0);
  buf.writeUInt16BE(((type << 10) | (flags & 0x3ff)) & 0xffff, 4);
  return buf;
}

function withMetadata(streamId: number, type: FrameTypeCode, flags: number, fixed: Buffer | null, metadata: Uint8Array | null, data: Uint8Array | null): Buffer {
  const fixedLen = fixed?.length ?? 0;
  const mdLen = metadata ? 3 + metadata.length : 0;
  const dataLen = data?.length ?? 0;
  if (metadata && metadata.length > 0xffffff) throw new RangeError('RSocket metadata is limited to 16 MiB');
  const buf = header(HEADER + fixedLen + mdLen + dataLen, streamId, type, flags | (metadata ? Flags.METADATA : 0));
  let offset = HEADER;
  if (fixed) offset += fixed.copy(buf, offset);
  if (metadata) {
    buf.writeUIntBE(metadata.length, offset, 3);
    offset += 3;
    buf.set(metadata, offset);
    offset += metadata.length;
  }
  if (data) buf.set(data, offset);
  return buf;
}

/** PAYLOAD frame; `next` and `complete` set the N and C flags. */
export function encodePayload(streamId: number, p: { data: Uint8Array | null; metadata?: Uint8Array | null; next?: boolean; complete?: boolean }): Buffer {
  const flags = (p.next ?? true ? Flags.NEXT : 0) | (p.complete ? Flags.COMPLETE : 0);
  return withMetadata(streamId, FrameType.PAYLOAD, flags, null, p.metadata ?? null, p.data);
}

/** PAYLOAD with only the COMPLETE flag: the stream ended normally. */
export function encodeComplete(streamId: number): Buffer {
  return header(HEADER, streamId, FrameType.PAYLOAD, Flags.COMPLETE);
}

export function encodeError(streamId: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const buf = header(HEADER + 4 + msg.length, streamId, FrameType.ERROR, 0);
  buf.writeUInt32BE(code >>> 0, HEADER);
  msg.copy(buf, HEADER + 4);
  return buf;
}

export function encodeKeepAlive(respond: boolean, data: Uint8Array = Buffer.alloc(0), lastReceivedPosition = 0n): Buffer {
  const buf = header(HEADER + 8 + data.length, 0, FrameType.KEEPALIVE, respond ? Flags.RESPOND : 0);
  buf.writeBigUInt64BE(lastReceivedPosition, HEADER);
  buf.set(data, HEADER + 8);
  return buf;
}

export function encodeRequestN(streamId: number, n: number): Buffer {
  const buf = header(HEADER + 4, streamId, FrameType.REQUEST_N, 0);
  buf.writeUInt32BE(Math.min(n, MAX_REQUEST_N), HEADER);
  return buf;
}

export function encodeCancel(streamId: number): Buffer {
  return header(HEADER, streamId, FrameType.CANCEL, 0);
}

export function encodeRequestStream(streamId: number, requestN: number, metadata: Uint8Array | null, data: Uint8Array | null): Buffer {
  const fixed = Buffer.allocUnsafe(4);
  fixed.writeUInt32BE(Math.min(requestN, MAX_REQUEST_N), 0);
  return withMetadata(streamId, FrameType.REQUEST_STREAM, 0, fixed, metadata, data);
}

/** SETUP frame (used by tests and tools acting as a client). */
export function encodeSetup(s: {
  keepAlive: number;
  lifetime: number;
  metadataMimeType: string;
  dataMimeType: string;
  metadata: Uint8Array | null;
  data: Uint8Array | null;
  majorVersion?: number;
  minorVersion?: number;
  resumeToken?: Uint8Array;
}): Buffer {
  const mdMime = Buffer.from(s.metadataMimeType, 'ascii');
  const dataMime = Buffer.from(s.dataMimeType, 'ascii');
  const resume = s.resumeToken ? Buffer.concat([Buffer.from([s.resumeToken.length >> 8, s.resumeToken.length & 0xff]), s.resumeToken]) : Buffer.alloc(0);
  const fixed = Buffer.allocUnsafe(12 + resume.length + 2 + mdMime.length + dataMime.length);
  fixed.writeUInt16BE(s.majorVersion ?? 1, 0);
  fixed.writeUInt16BE(s.minorVersion ?? 0, 2);
  fixed.writeUInt32BE(s.keepAlive, 4);
  fixed.writeUInt32BE(s.lifetime, 8);
  let o = 12 + resume.copy(fixed, 12);
  o = fixed.writeUInt8(mdMime.length, o);
  o += mdMime.copy(fixed, o);
  o = fixed.writeUInt8(dataMime.length, o);
  dataMime.copy(fixed, o);
  return withMetadata(0, FrameType.SETUP, s.resumeToken ? Flags.RESUME_ENABLE : 0, fixed, s.metadata, s.data);
}
