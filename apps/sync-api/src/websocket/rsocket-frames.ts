/**
 * RSocket frame codec for the server: the shared, browser-safe codec of `@syncline/protocol`
 * (`rsocket-frames.ts` there) seen through Node Buffers, so the connection code keeps using
 * Buffer methods. Decoding a Buffer yields Buffer views (subarray of a Buffer is a Buffer);
 * encoders wrap the encoded bytes without copying.
 */
import type { FrameType } from '@syncline/protocol';
import {
  FrameFlags,
  RSOCKET_MAX_REQUEST_N,
  RSocketErrorCode,
  decodeRSocketFrame,
  encodeCancelFrame,
  encodeCompleteFrame,
  encodeErrorFrame,
  encodeKeepAliveFrame,
  encodePayloadFrame,
  encodeRequestNFrame,
  encodeRequestStreamFrame,
  encodeSetupFrame,
} from '@syncline/protocol';

export { FrameDecodeError, FrameType, type FrameTypeCode } from '@syncline/protocol';
export const Flags = FrameFlags;
export const ErrorCode = RSocketErrorCode;
export const MAX_REQUEST_N = RSOCKET_MAX_REQUEST_N;

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

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Decodes one frame (a whole WebSocket message). Throws FrameDecodeError on malformed input. */
export function decodeFrame(buf: Buffer): Frame {
  return decodeRSocketFrame(buf) as Frame;
}

/** PAYLOAD frame; `next` and `complete` set the N and C flags. */
export function encodePayload(streamId: number, p: { data: Uint8Array | null; metadata?: Uint8Array | null; next?: boolean; complete?: boolean }): Buffer {
  return asBuffer(encodePayloadFrame(streamId, p));
}

/** PAYLOAD with only the COMPLETE flag: the stream ended normally. */
export function encodeComplete(streamId: number): Buffer {
  return asBuffer(encodeCompleteFrame(streamId));
}

export function encodeError(streamId: number, code: number, message: string): Buffer {
  return asBuffer(encodeErrorFrame(streamId, code, message));
}

export function encodeKeepAlive(respond: boolean, data: Uint8Array = Buffer.alloc(0), lastReceivedPosition = 0n): Buffer {
  return asBuffer(encodeKeepAliveFrame(respond, data, lastReceivedPosition));
}

export function encodeRequestN(streamId: number, n: number): Buffer {
  return asBuffer(encodeRequestNFrame(streamId, n));
}

export function encodeCancel(streamId: number): Buffer {
  return asBuffer(encodeCancelFrame(streamId));
}

export function encodeRequestStream(streamId: number, requestN: number, metadata: Uint8Array | null, data: Uint8Array | null): Buffer {
  return asBuffer(encodeRequestStreamFrame(streamId, requestN, metadata, data));
}

/** SETUP frame (used by tests and tools acting as a client). */
export function encodeSetup(s: Parameters<typeof encodeSetupFrame>[0]): Buffer {
  return asBuffer(encodeSetupFrame(s));
}
