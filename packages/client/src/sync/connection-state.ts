/**
 * The connection state machine of the sync client, pure: `transition(state, event)` returns the
 * next state and the effects the driver must perform. Every (state, event) pair is covered by the
 * table in `test/connection-state.test.ts`; pairs not listed below leave the state unchanged.
 *
 * ```
 *  disconnected --connect--> connecting --opened--> connected
 *       ^                      |   ^                   |  ended/failed --> backoff --timer--> connecting
 *       |                      |   +------restart------+  (restart: token refreshed, reconnect at once;
 *       |                      |                           a healthy stream that ended: reconnect at once)
 *       +----disconnect--------+-- from any state except closed;  close --> closed (final)
 * ```
 */
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';

export type ConnectionState =
  | { kind: 'disconnected' }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected'; attempt: number }
  | { kind: 'backoff'; attempt: number; delayMs: number }
  | { kind: 'closed' };

export type ConnectionEvent =
  /** The app called connect(). */
  | { type: 'connect' }
  /** The stream's response headers arrived (HTTP 200). */
  | { type: 'opened' }
  /** The stream proved healthy (a checkpoint was received): the backoff resets. */
  | { type: 'healthy' }
  /** The server ended the stream normally. */
  | { type: 'ended' }
  /** The attempt failed (network, HTTP error, protocol, checksum). */
  | { type: 'failed'; error: Error }
  /** Reconnect immediately without showing a disconnect (e.g. credentials refreshed). */
  | { type: 'restart' }
  /** The backoff delay elapsed. */
  | { type: 'retry_timer' }
  /** The app called disconnect(). */
  | { type: 'disconnect' }
  /** The database is closing. */
  | { type: 'close' };

export type ConnectionEffect =
  | { type: 'open_stream' }
  | { type: 'abort_stream' }
  | { type: 'schedule_retry'; delayMs: number }
  | { type: 'cancel_retry' };

export interface TransitionResult {
  state: ConnectionState;
  effects: ConnectionEffect[];
}

export interface TransitionContext {
  backoff?: BackoffOptions;
  random?: () => number;
}

export const INITIAL_CONNECTION_STATE: ConnectionState = { kind: 'disconnected' };

function retry(attempt: number, ctx: TransitionContext, effects: ConnectionEffect[]): TransitionResult {
  const next = attempt + 1;
  const delayMs = backoffDelay(next, ctx.backoff ?? DEFAULT_BACKOFF, ctx.random);
  return { state: { kind: 'backoff', attempt: next, delayMs }, effects: [...effects, { type: 'schedule_retry', delayMs }] };
}

export function transition(state: ConnectionState, event: ConnectionEvent, ctx: TransitionContext = {}): TransitionResult {
  const same: TransitionResult = { state, effects: [] };
  if (state.kind === 'closed') return same;
  if (event.type === 'close') {
    const effects: ConnectionEffect[] = [];
    if (state.kind === 'connecting' || state.kind === 'connected') effects.push({ type: 'abort_stream' });
    if (state.kind === 'backoff') effects.push({ type: 'cancel_retry' });
    return { state: { kind: 'closed' }, effects };
  }
  if (event.type === 'disconnect') {
    if (state.kind === 'disconnected') return same;
    const effects: ConnectionEffect[] = state.kind === 'backoff' ? [{ type: 'cancel_retry' }] : [{ type: 'abort_stream' }];
    return { state: { kind: 'disconnected' }, effects };
  }

  switch (state.kind) {
    case 'disconnected':
      return event.type === 'connect' ? { state: { kind: 'connecting', attempt: 0 }, effects: [{ type: 'open_stream' }] } : same;

    case 'connecting':
      switch (event.type) {
        case 'opened':
          return { state: { kind: 'connected', attempt: state.attempt }, effects: [] };
        case 'failed':
        case 'ended':
          return retry(state.attempt, ctx, []);
        case 'restart':
        case 'connect':
          return { state: { kind: 'connecting', attempt: state.attempt }, effects: [{ type: 'abort_stream' }, { type: 'open_stream' }] };
        default:
          return same;
      }

    case 'connected':
      switch (event.type) {
        case 'healthy':
          return state.attempt === 0 ? same : { state: { kind: 'connected', attempt: 0 }, effects: [] };
        case 'ended':
          // A healthy stream the server ended cleanly (a draining process, a rules deploy) is
          // reopened at once; attempt 1 makes a stream that ends again before its first
          // checkpoint back off as usual, so a server ending every stream cannot cause a loop.
          if (state.attempt === 0) return { state: { kind: 'connecting', attempt: 1 }, effects: [{ type: 'abort_stream' }, { type: 'open_stream' }] };
          return retry(state.attempt, ctx, [{ type: 'abort_stream' }]);
        case 'failed':
          return retry(state.attempt, ctx, [{ type: 'abort_stream' }]);
        case 'restart':
        case 'connect':
          return { state: { kind: 'connecting', attempt: state.attempt }, effects: [{ type: 'abort_stream' }, { type: 'open_stream' }] };
        default:
          return same;
      }

    case 'backoff':
      switch (event.type) {
        case 'retry_timer':
          return { state: { kind: 'connecting', attempt: state.attempt }, effects: [{ type: 'open_stream' }] };
        case 'connect':
        case 'restart':
          return { state: { kind: 'connecting', attempt: state.attempt }, effects: [{ type: 'cancel_retry' }, { type: 'open_stream' }] };
        default:
          return same;
      }
  }
}

/** The status flags a state shows to the app. */
export function connectionFlags(state: ConnectionState): { connected: boolean; connecting: boolean } {
  return { connected: state.kind === 'connected', connecting: state.kind === 'connecting' };
}
