// One message row: avatar, sender, local time, text content (never HTML), and
// its delivery state (pending / failed with retry). System messages are set apart.
import { memo } from 'react';
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

export const MessageItem = memo(function MessageItem({ msg, name, avatarUrl, compact, mine, connected, onRetry, onDiscard }: Props) {
  const time = (
    <time dateTime={msg.timestamp} title={formatFull(msg.timestamp)} data-testid="message-time">
      {formatTime(msg.timestamp)}
    </time>
  );
  if (msg.type === 'system') {
    return (
      <li className="system-message" data-testid="system-message" data-seq={msg.seq}>
        <span className="system-text" data-testid="message-content">{msg.content}</span> {time}
      </li>
    );
  }
  const cmid = msg.client_msg_id;
  return (
    <li className={`message ${compact ? 'compact' : ''} ${mine ? 'mine' : ''} status-${msg.status}`} data-testid="message"
      data-seq={msg.seq ?? ''} data-status={msg.status} data-user-id={msg.user_id} data-client-msg-id={cmid ?? ''}>
      <div className="message-gutter">
        {compact ? <span className="gutter-time">{formatTime(msg.timestamp)}</span>
          : <Avatar userId={msg.user_id} name={name} url={avatarUrl} size={36} />}
      </div>
      <div className="message-main">
        {!compact && (
          <div className="message-head">
            <span className="message-author" data-testid="message-author">{name}</span> {time}
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
