import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  Flags,
  FrameDecodeError,
  FrameType,
  decodeFrame,
  encodeCancel,
  encodeComplete,
  encodeError,
  encodeKeepAlive,
  encodePayload,
  encodeRequestN,
  encodeRequestStream,
  encodeSetup,
} from '../../src/websocket/rsocket-frames.ts';

const hex = (b: Buffer) => b.toString('hex');

describe('RSocket frame encoding (byte-exact, no length prefix)', () => {
  it('encodes REQUEST_N as stream id, type 0x08 << 10, and a uint32 count', () => {
    expect(hex(encodeRequestN(1, 10))).toBe('00000001' + '2000' + '0000000a');
  });

  it('encodes CANCEL as a bare header', () => {
    expect(hex(encodeCancel(3))).toBe('00000003' + '2400');
  });

  it('encodes a KEEPALIVE answer without the RESPOND flag and echoes its data', () => {
    expect(hex(encodeKeepAlive(false, Buffer.from([0xab])))).toBe('00000000' + '0c00' + '0000000000000000' + 'ab');
    expect(hex(encodeKeepAlive(true))).toBe('00000000' + '0c80' + '0000000000000000');
  });

  it('encodes PAYLOAD(NEXT) with data only, and COMPLETE as an empty PAYLOAD with the C flag', () => {
    expect(hex(encodePayload(1, { data: Buffer.from('hi') }))).toBe('00000001' + '2820' + '6869');
    expect(hex(encodePayload(1, { data: Buffer.from('x'), metadata: Buffer.from('m'), complete: true }))).toBe('00000001' + '2960' + '000001' + '6d' + '78');
    expect(hex(encodeComplete(5))).toBe('00000005' + '2840');
  });

  it('encodes ERROR with a uint32 code and a UTF-8 message', () => {
    expect(hex(encodeError(0, ErrorCode.REJECTED_SETUP, 'nö'))).toBe('00000000' + '2c00' + '00000003' + '6ec3b6');
    expect(hex(encodeError(7, ErrorCode.APPLICATION_ERROR, ''))).toBe('00000007' + '2c00' + '00000201');
  });

  it('encodes SETUP with versions, keepalive, lifetime, MIME types and 24-bit metadata length', () => {
    const frame = encodeSetup({ keepAlive: 20_000, lifetime: 90_000, metadataMimeType: 'a/b', dataMimeType: 'c', metadata: Buffer.from('{}'), data: null });
    expect(hex(frame)).toBe('00000000' + '0500' + '0001' + '0000' + '00004e20' + '00015f90' + '03' + '612f62' + '01' + '63' + '000002' + '7b7d');
  });
});

describe('RSocket frame decoding', () => {
  it('round-trips SETUP including metadata, data and MIME types', () => {
    const f = decodeFrame(encodeSetup({ keepAlive: 15_000, lifetime: 120_000, metadataMimeType: 'application/bson', dataMimeType: 'application/json', metadata: Buffer.from([1, 2, 3]), data: Buffer.from('d') }));
    expect(f).toMatchObject({ type: FrameType.SETUP, streamId: 0, majorVersion: 1, minorVersion: 0, keepAlive: 15_000, lifetime: 120_000, metadataMimeType: 'application/bson', dataMimeType: 'application/json', resumeToken: null });
    if (f.type !== FrameType.SETUP) throw new Error('unreachable');
    expect([...f.metadata!]).toEqual([1, 2, 3]);
    expect(f.data.toString()).toBe('d');
  });

  it('reads a resume token when the SETUP has the RESUME_ENABLE flag', () => {
    const f = decodeFrame(encodeSetup({ keepAlive: 1, lifetime: 2, metadataMimeType: 'm', dataMimeType: 'd', metadata: null, data: null, resumeToken: Buffer.from('tok') }));
    if (f.type !== FrameType.SETUP) throw new Error('unreachable');
    expect(f.flags & Flags.RESUME_ENABLE).toBe(Flags.RESUME_ENABLE);
    expect(f.resumeToken?.toString()).toBe('tok');
    expect(f.metadata).toBeNull();
  });

  it('round-trips REQUEST_STREAM with initial N, metadata and data', () => {
    const f = decodeFrame(encodeRequestStream(1, 10, Buffer.from('{"path":"/sync/stream"}'), Buffer.from('{}')));
    expect(f.type).toBe(FrameType.REQUEST_STREAM);
    if (f.type !== FrameType.REQUEST_STREAM) throw new Error('unreachable');
    expect(f.streamId).toBe(1);
    expect(f.requestN).toBe(10);
    expect(f.metadata?.toString()).toBe('{"path":"/sync/stream"}');
    expect(f.data.toString()).toBe('{}');
  });

  it('decodes REQUEST_N, CANCEL, KEEPALIVE, PAYLOAD and ERROR', () => {
    expect(decodeFrame(encodeRequestN(3, 0x7fffffff))).toMatchObject({ type: FrameType.REQUEST_N, streamId: 3, requestN: 0x7fffffff });
    expect(decodeFrame(encodeCancel(3))).toMatchObject({ type: FrameType.CANCEL, streamId: 3 });
    const ka = decodeFrame(encodeKeepAlive(true, Buffer.from('x'), 42n));
    expect(ka).toMatchObject({ type: FrameType.KEEPALIVE, flags: Flags.RESPOND, lastReceivedPosition: 42n });
    const p = decodeFrame(encodePayload(9, { data: Buffer.from('abc'), complete: true }));
    expect(p).toMatchObject({ type: FrameType.PAYLOAD, streamId: 9, flags: Flags.NEXT | Flags.COMPLETE, metadata: null });
    expect(decodeFrame(encodeError(1, ErrorCode.INVALID, 'bad'))).toMatchObject({ type: FrameType.ERROR, streamId: 1, code: 0x204, message: 'bad' });
  });

  it('ignores the reserved high bit of the stream id', () => {
    const buf = encodeCancel(1);
    buf[0] = 0x80;
    expect(decodeFrame(buf).streamId).toBe(1);
  });

  it('rejects short, truncated and unknown frames with FrameDecodeError', () => {
    expect(() => decodeFrame(Buffer.from([0, 0, 0]))).toThrow(FrameDecodeError);
    expect(() => decodeFrame(encodeRequestN(1, 1).subarray(0, 8))).toThrow(/truncated request N/);
    const md = encodeRequestStream(1, 1, Buffer.from('metadata'), null);
    expect(() => decodeFrame(md.subarray(0, md.length - 2))).toThrow(/truncated metadata/);
    const unknown = Buffer.from('000000011c00', 'hex'); // 0x1c00 >> 10 = 7: REQUEST_CHANNEL without its N
    expect(() => decodeFrame(unknown)).toThrow(/truncated initial request N/);
    expect(() => decodeFrame(Buffer.from('00000001' + 'f800', 'hex'))).toThrow(/unknown frame type 62/);
  });
});
