/**
 * RSocket frame codec for the server: the shared, browser-safe codec of `@syncline/protocol`
 * (`rsocket-frames.ts` there) seen through Node Buffers, so the connection code keeps using
 * Buffer methods. Decoding a Buffer yields Buffer views (subarray of a Buffer is a Buffer);
 * encoders wrap the encoded bytes without copying.
 */
import type { RSocketFrame } from '@syncline/protocol';
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

export type Frame = RSocketFrame<Buffer>;

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
