// Left column: the user, connection status, the rooms and direct messages the
// user belongs to (links to their URLs, with unread counts), and entry points to
// create/browse/DM.
import type { MouseEvent } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { roomPath } from '../lib/route';
import type { Room } from '../lib/types';
import { Avatar, PresenceDot, presenceText } from './Avatar';
import { ConnectionStatus } from './ConnectionStatus';
import { GearIcon, HashIcon, LockIcon, PlusIcon } from './Icons';

export type DialogKind = 'create' | 'browse' | 'dm' | 'profile';

interface Props {
  client: ChatClient;
  onOpenRoom: (id: string) => void;
  onDialog: (d: DialogKind) => void;
  onLogout: () => void;
}

export function roomTitle(client: ChatClient, room: Room): string {
  if (client.dir.isDm(room)) {
    const other = client.dir.dmPartner(room);
    return other ? client.dir.displayName(other) : room.name;
  }
  return room.name;
}

function Unread({ n }: { n: number }) {
  if (n <= 0) return null;
  return (
    <>
      <span className="badge" data-testid="unread-badge" aria-hidden="true">{n > 99 ? '99+' : n}</span>
      <span className="visually-hidden">, {n} unread</span>
    </>
  );
}

/** A plain click opens the room in place; ctrl/cmd/shift/middle clicks keep the browser's behaviour. */
function linkClick(e: MouseEvent<HTMLAnchorElement>, open: () => void): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  open();
}

export function Sidebar({ client, onOpenRoom, onDialog, onLogout }: Props) {
  const { dir, me } = client;
  const mine = dir.memberRooms();
  const channels = mine.filter((r) => !dir.isDm(r));
  const dms = mine.filter((r) => dir.isDm(r));
  const myName = dir.displayName(me.id, me.display_name || me.username);

  return (
    <aside className="sidebar" data-testid="sidebar" aria-label="Rooms and people">
      <header className="sidebar-header">
        <div className="me">
          <Avatar userId={me.id} name={myName} url={me.avatar_url} size={36} />
          <div className="me-text">
            <strong data-testid="me-name">{myName}</strong>
            <span className="muted">@{me.username}</span>
          </div>
          <button type="button" className="icon-button" aria-label="Edit profile" title="Edit profile"
            onClick={() => onDialog('profile')} data-testid="profile-button">
            <GearIcon />
          </button>
        </div>
        <ConnectionStatus state={client.connection} onRetry={() => client.reconnectNow()} />
      </header>

      <nav className="sidebar-nav" aria-label="Conversations">
        <section>
          <div className="section-head">
            <h2>Rooms</h2>
            <div className="section-actions">
              <button type="button" className="small-button" onClick={() => onDialog('browse')}
                data-testid="browse-rooms-button">
                Browse
              </button>
              <button type="button" className="icon-button" aria-label="Create a room" title="Create a room"
                onClick={() => onDialog('create')} data-testid="new-room-button">
                <PlusIcon />
              </button>
            </div>
          </div>
          <ul className="room-list" data-testid="room-list">
            {channels.length === 0 && !client.loading && (
              <li className="muted empty-hint">No rooms yet. Browse or create one.</li>
            )}
            {channels.map((r) => (
              <li key={r.id}>
                <a href={roomPath(r.id)} className={`room-item${client.activeRoomId === r.id ? ' active' : ''}`}
                  aria-current={client.activeRoomId === r.id ? 'page' : undefined} onClick={(e) => linkClick(e, () => onOpenRoom(r.id))}
                  data-testid="room-item" data-room-id={r.id} data-room-name={r.name}>
                  <span className="room-icon" aria-hidden="true">{r.is_private ? <LockIcon size={15} /> : <HashIcon size={15} />}</span>
                  <span className="room-name">{r.name}{r.is_private && <span className="visually-hidden"> (private)</span>}</span>
                  <Unread n={client.unread(r.id)} />
                </a>
              </li>
            ))}
          </ul>
        </section>

        <section>
          <div className="section-head">
            <h2>Direct messages</h2>
            <button type="button" className="icon-button" aria-label="New direct message" title="New direct message"
              onClick={() => onDialog('dm')} data-testid="new-dm-button">
              <PlusIcon />
            </button>
          </div>
          <ul className="room-list" data-testid="dm-list">
            {dms.map((r) => {
              const other = dir.dmPartner(r) ?? '';
              const name = roomTitle(client, r);
              return (
                <li key={r.id}>
                  <a href={roomPath(r.id, true)} className={`room-item${client.activeRoomId === r.id ? ' active' : ''}`}
                    aria-current={client.activeRoomId === r.id ? 'page' : undefined} onClick={(e) => linkClick(e, () => onOpenRoom(r.id))}
                    data-testid="dm-item" data-room-id={r.id}>
                    <span className="dm-avatar">
                      <Avatar userId={other} name={name} url={dir.users.get(other)?.avatar_url} size={22} />
                      <PresenceDot presence={client.presence(other)} />
                    </span>
                    <span className="room-name">{name}<span className="visually-hidden">, {presenceText(client.presence(other)).toLowerCase()}</span></span>
                    <Unread n={client.unread(r.id)} />
                  </a>
                </li>
              );
            })}
          </ul>
        </section>
      </nav>

      <footer className="sidebar-footer">
        <button type="button" className="ghost-button" onClick={onLogout} data-testid="logout-button">
          Log out
        </button>
      </footer>
    </aside>
  );
}
