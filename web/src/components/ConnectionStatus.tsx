// Always-visible connection indicator: connected / connecting / reconnecting
// (with a countdown and "retry now") / offline.
import { useNow } from '../hooks';
import type { ConnState } from '../lib/socket';

export function ConnectionStatus({ state, onRetry }: { state: ConnState; onRetry: () => void }) {
  const now = useNow(500, state.state === 'reconnecting');
  let text: string;
  switch (state.state) {
    case 'connected':
      text = 'Connected';
      break;
    case 'connecting':
      text = state.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
      break;
    case 'reconnecting': {
      const secs = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
      text = secs > 0 ? `Reconnecting in ${secs} s` : 'Reconnecting…';
      break;
    }
    case 'offline':
      text = 'Offline: waiting for the network';
      break;
    default:
      text = 'Disconnected';
  }
  const tone = state.state === 'connected' ? 'ok' : state.state === 'offline' || state.state === 'stopped' ? 'bad' : 'warn';
  return (
    <div className={`conn-status ${tone}`} role="status" aria-live="polite" data-testid="connection-status"
      data-state={state.state}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-text">{text}</span>
      {state.state === 'reconnecting' && (
        <span className="conn-reason"> ({state.reason})</span>
      )}
      {state.state === 'reconnecting' && (
        <button type="button" className="link-button" onClick={onRetry} data-testid="reconnect-now">
          Retry now
        </button>
      )}
    </div>
  );
}
