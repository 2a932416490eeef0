// One message row: avatar, sender, local time, text content (never HTML), and its
// delivery state (pending / failed with retry). Own messages are tinted and signed
// "You"; grouped rows show their time on hover, on keyboard focus and on a tap
// (touch screens have no hover). System messages are set apart.
import { memo, useState, type MouseEvent } from 'react';
import { formatFull, formatTime } from '../lib/format';
import type { ChatMessage } from '../lib/messageStore';
import { Avatar } from './Avatar';

interface Props {
  msg: ChatMessage;
  name: string;
  avatarUrl?: string | null;
  compact: boolean;
  mine: boolean;
  connected: boolean;
  onRetry: (cmid: string) => void;
  onDiscard: (cmid: string) => void;
}

function Time({ ts, className }: { ts: string; className?: string }) {
  return (
    <time dateTime={ts} title={formatFull(ts)} className={className} data-testid="message-time">
      {formatTime(ts)}
    </time>
  );
}

/** A tap (not a text selection, not a click on a control) toggles the time of a grouped row. */
function isPlainTap(e: MouseEvent<HTMLElement>): boolean {
  if ((e.target as HTMLElement).closest('button, a, input, textarea')) return false;
  const sel = typeof window !== 'undefined' ? window.getSelection() : null;
  return !sel || sel.isCollapsed;
}

export const MessageItem = memo(function MessageItem({ msg, name, avatarUrl, compact, mine, connected, onRetry, onDiscard }: Props) {
  const [showTime, setShowTime] = useState(false);
  if (msg.type === 'system') {
    return (
      <li className="system-message" data-testid="system-message" data-seq={msg.seq}>
        <span className="system-text" data-testid="message-content">{msg.content}</span> <Time ts={msg.timestamp} />
      </li>
    );
  }
  const cmid = msg.client_msg_id;
  const author = mine ? 'You' : name;
  const classes = ['message', compact && 'compact', mine && 'mine', showTime && 'show-time', `status-${msg.status}`]
    .filter(Boolean).join(' ');
  return (
    <li className={classes} data-testid="message" data-seq={msg.seq ?? ''} data-status={msg.status}
      data-user-id={msg.user_id} data-client-msg-id={cmid ?? ''} data-mine={mine ? 'true' : 'false'}
      onClick={compact ? (e) => isPlainTap(e) && setShowTime((v) => !v) : undefined}>
      <div className="message-gutter">
        {compact ? <Time ts={msg.timestamp} className="gutter-time" />
          : <Avatar userId={msg.user_id} name={name} url={avatarUrl} size={36} />}
      </div>
      <div className="message-main">
        {compact ? (
          <span className="visually-hidden">{author}: </span>
        ) : (
          <div className="message-head">
            <span className="message-author" data-testid="message-author" title={mine ? name : undefined}>{author}</span>
            {' '}<Time ts={msg.timestamp} />
          </div>
        )}
        <div className="message-content" data-testid="message-content">{msg.content}</div>
        {msg.status === 'pending' && (
          <div className="message-state" data-testid="message-pending">
            {msg.error ?? (connected ? 'Sending…' : 'Waiting for connection…')}
          </div>
        )}
        {msg.status === 'failed' && cmid && (
          <div className="message-state failed" role="alert">
            <span data-testid="message-error">⚠ Not sent: {msg.error ?? 'unknown error'}</span>
            <button type="button" className="link-button" onClick={() => onRetry(cmid)} data-testid="message-retry">
              Retry
            </button>
            <button type="button" className="link-button" onClick={() => onDiscard(cmid)} data-testid="message-discard">
              Delete
            </button>
          </div>
        )}
      </div>
    </li>
  );
});
