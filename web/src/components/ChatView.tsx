// The open room: header (title, members toggle, leave), message history,
// "X is typing…" and the composer.
import { useEffect, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import type { Room } from '../lib/types';
import { typingText } from '../lib/typing';
import { PresenceDot } from './Avatar';
import { Composer } from './Composer';
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

export function ChatView({ client, room, membersOpen, onToggleMembers, onMenu }: Props) {
  const [confirmLeave, setConfirmLeave] = useState(false);
  const [busy, setBusy] = useState(false);
  const isDm = client.dir.isDm(room);
  const title = roomTitle(client, room);
  const partner = isDm ? client.dir.dmPartner(room) : undefined;
  const typing = typingText(client.typingNames(room.id));
  const messages = client.store.messages(room.id);

  useEffect(() => {
    if (!confirmLeave) return;
    const t = setTimeout(() => setConfirmLeave(false), 4000);
    return () => clearTimeout(t);
  }, [confirmLeave]);

  const leave = async () => {
    if (!confirmLeave) {
      setConfirmLeave(true);
      return;
    }
    setBusy(true);
    try {
      await client.leaveRoom(room.id);
    } catch (e) {
      client.showNotice(e instanceof Error ? e.message : 'Could not leave the room.');
      setBusy(false);
      setConfirmLeave(false);
    }
  };

  return (
    <section className="chat-view" data-testid="chat-view" data-room-id={room.id} aria-label={`Conversation ${title}`}>
      <header className="chat-header">
        <button type="button" className="icon-button menu-button" aria-label="Open conversations list" onClick={onMenu}
          data-testid="menu-button">
          <MenuIcon />
        </button>
        <div className="chat-title">
          <h2 data-testid="room-title">
            {partner ? <PresenceDot online={client.dir.isOnline(partner)} /> : <span className="room-icon" aria-hidden="true">{room.is_private ? <LockIcon size={16} /> : <HashIcon size={16} />}</span>}
            <span>{title}</span>
          </h2>
          {room.description && !isDm && <p className="chat-description muted" title={room.description}>{room.description}</p>}
        </div>
        <div className="chat-actions">
          <button type="button" className={`small-button${membersOpen ? ' pressed' : ''}`} aria-pressed={membersOpen}
            aria-label={`Members (${room.members.length})`} onClick={onToggleMembers} data-testid="members-toggle">
            <UsersIcon size={16} /> <span aria-hidden="true">{room.members.length}</span>
          </button>
          <button type="button" className={`small-button${confirmLeave ? ' danger' : ''}`} onClick={leave} disabled={busy}
            data-testid="leave-room-button">
            {confirmLeave ? 'Confirm leave' : 'Leave'}
          </button>
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
