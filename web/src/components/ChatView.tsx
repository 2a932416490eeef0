// The open room: header (title, connection state on phones, members toggle, leave),
// message history, "X is typing…" and the composer. DMs have no "Leave".
import { useEffect, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { friendlyError } from '../lib/errors';
import type { Room } from '../lib/types';
import { typingText } from '../lib/typing';
import { PresenceDot, presenceText } from './Avatar';
import { Composer } from './Composer';
import { ConnectionStatus } from './ConnectionStatus';
import { MessageList } from './MessageList';
import { roomTitle } from './Sidebar';
import { HashIcon, LockIcon, MenuIcon, UsersIcon } from './Icons';

interface Props {
  client: ChatClient;
  room: Room;
  membersOpen: boolean;
  onToggleMembers: () => void;
  onMenu: () => void;
}

function LeaveButton({ client, room }: { client: ChatClient; room: Room }) {
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!confirm) return;
    const t = setTimeout(() => setConfirm(false), 4000);
    return () => clearTimeout(t);
  }, [confirm]);

  const leave = async () => {
    if (!confirm) {
      setConfirm(true);
      return;
    }
    setBusy(true);
    try {
      await client.leaveRoom(room.id);
    } catch (e) {
      client.showNotice(friendlyError(e, 'room'));
      setBusy(false);
      setConfirm(false);
    }
  };

  return (
    <button type="button" className={`small-button${confirm ? ' danger' : ''}`} onClick={leave} disabled={busy}
      data-testid="leave-room-button" aria-label={confirm ? `Confirm leaving #${room.name}` : `Leave #${room.name}`}>
      {confirm ? 'Confirm leave' : 'Leave'}
    </button>
  );
}

export function ChatView({ client, room, membersOpen, onToggleMembers, onMenu }: Props) {
  const isDm = client.dir.isDm(room);
  const title = roomTitle(client, room);
  const partner = isDm ? client.dir.dmPartner(room) : undefined;
  const typing = typingText(client.typingNames(room.id));
  const messages = client.store.messages(room.id);
  const count = client.dir.memberCount(room);

  return (
    <section className="chat-view" data-testid="chat-view" data-room-id={room.id} aria-label={`Conversation ${title}`}>
      <header className="chat-header">
        <button type="button" className="icon-button menu-button" aria-label="Open conversations list" onClick={onMenu}
          data-testid="menu-button">
          <MenuIcon />
        </button>
        <div className="chat-title">
          <h2 data-testid="room-title">
            {partner ? <PresenceDot presence={client.presence(partner)} />
              : <span className="room-icon" aria-hidden="true">{room.is_private ? <LockIcon size={16} /> : <HashIcon size={16} />}</span>}
            <span>{title}</span>
            {partner && <span className="visually-hidden">, {presenceText(client.presence(partner)).toLowerCase()}</span>}
          </h2>
          {room.description && !isDm && <p className="chat-description muted" title={room.description}>{room.description}</p>}
        </div>
        <ConnectionStatus state={client.connection} onRetry={() => client.reconnectNow()} compact />
        <div className="chat-actions">
          <button type="button" className={`small-button${membersOpen ? ' pressed' : ''}`} aria-pressed={membersOpen}
            onClick={onToggleMembers} data-testid="members-toggle" title="Members">
            <UsersIcon size={16} /> <span>{count}</span><span className="visually-hidden"> member{count === 1 ? '' : 's'}</span>
          </button>
          {!isDm && <LeaveButton client={client} room={room} />}
        </div>
      </header>
      <MessageList client={client} roomId={room.id} messages={messages} />
      <div className="typing-indicator" aria-live="polite" data-testid="typing-indicator">
        {typing}
      </div>
      <Composer key={room.id} client={client} roomId={room.id} label={isDm ? `Message ${title}` : `Message #${room.name}`} />
    </section>
  );
}
