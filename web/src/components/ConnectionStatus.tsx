// Connection indicator: connected / connecting / reconnecting (with a countdown and
// "Retry now") / offline. The sidebar shows it always; on phones, where the sidebar is a
// closed drawer, the room header shows the compact variant whenever we are not connected.
import { useNow } from '../hooks';
import type { ConnState } from '../lib/socket';

interface Props {
  state: ConnState;
  onRetry: () => void;
  /** The room header's variant: short text, rendered only while not connected. */
  compact?: boolean;
}

function describe(state: ConnState, now: number, compact: boolean): string {
  switch (state.state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return state.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
    case 'reconnecting': {
      const secs = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      return secs > 0 ? `Reconnecting in ${secs} s` : 'Reconnecting…';
    }
    case 'offline':
      return compact ? 'No network' : 'Offline: waiting for the network';
    default:
      return 'Disconnected';
  }
}

export function ConnectionStatus({ state, onRetry, compact = false }: Props) {
  const now = useNow(500, state.state === 'reconnecting');
  if (compact && state.state === 'connected') return null;
  const text = describe(state, now, compact);
  const tone = state.state === 'connected' ? 'ok' : state.state === 'offline' || state.state === 'stopped' ? 'bad' : 'warn';
  return (
    <div className={`conn-status ${tone}${compact ? ' compact' : ''}`} role="status" aria-live="polite"
      data-testid={compact ? 'header-connection-status' : 'connection-status'} data-state={state.state}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-text">{text}</span>
      {state.state === 'reconnecting' && !compact && (
        <span className="conn-reason"> ({state.reason})</span>
      )}
      {state.state === 'reconnecting' && (
        <button type="button" className="link-button" onClick={onRetry}
          data-testid={compact ? 'header-reconnect-now' : 'reconnect-now'}>
          Retry now
        </button>
      )}
    </div>
  );
}
