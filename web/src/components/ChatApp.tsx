// The logged-in app: owns the ChatClient and lays out sidebar, chat view, members
// panel and dialogs (sidebar becomes a drawer on narrow screens). Keeps the URL in
// step with the open room, the tab title with the unread count, and announces new
// messages of the open room to screen readers.
import { useEffect, useState } from 'react';
import { useMediaQuery, useStore } from '../hooks';
import type { AuthStore } from '../lib/auth';
import { ChatClient } from '../lib/chatClient';
import { friendlyError } from '../lib/errors';
import { documentTitle } from '../lib/format';
import type { Room } from '../lib/types';
import { Announcer } from './Announcer';
import { ChatView } from './ChatView';
import { BrowseRoomsDialog, CreateRoomDialog, NewDmDialog, ProfileDialog } from './Dialogs';
import { MembersPanel } from './MembersPanel';
import { Sidebar, type DialogKind } from './Sidebar';
import { CloseIcon, HashIcon, MenuIcon } from './Icons';
import { useRoomRoute } from './useRoomRoute';

function JoinPrompt({ client, room, onMenu }: { client: ChatClient; room: Room; onMenu: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const n = client.dir.memberCount(room);
  const join = async () => {
    setBusy(true);
    setError(null);
    try {
      await client.joinRoom(room.id);
    } catch (e) {
      setError(friendlyError(e, 'room'));
      setBusy(false);
    }
  };
  return (
    <div className="join-view">
      <header className="chat-header">
        <button type="button" className="icon-button menu-button" aria-label="Open conversations list" onClick={onMenu}>
          <MenuIcon />
        </button>
      </header>
      <div className="empty-main" data-testid="join-prompt" data-room-id={room.id}>
        <h2><HashIcon size={18} /> {room.name}</h2>
        {room.description && <p className="muted">{room.description}</p>}
        <p className="muted">{n.toLocaleString()} member{n === 1 ? '' : 's'}. You are not a member of this room yet.</p>
        {error && <p className="form-error" role="alert">{error}</p>}
        <div className="empty-actions">
          <button type="button" className="primary" disabled={busy} onClick={() => void join()} data-testid="join-prompt-button">
            {busy ? 'Joining…' : `Join #${room.name}`}
          </button>
        </div>
      </div>
    </div>
  );
}

export function ChatApp({ auth }: { auth: AuthStore }) {
  const [client] = useState(() => new ChatClient(auth));
  useStore(client, client.getVersion);
  const wide = useMediaQuery('(min-width: 1200px)');
  const [drawer, setDrawer] = useState(false);
  const [membersOpen, setMembersOpen] = useState<boolean | null>(null);
  const [dialog, setDialog] = useState<DialogKind | null>(null);
  const preview = useRoomRoute(client);

  useEffect(() => {
    void client.start();
    return () => client.stop();
  }, [client]);

  const unread = client.totalUnread();
  useEffect(() => {
    document.title = documentTitle(unread);
  }, [unread]);
  useEffect(() => () => void (document.title = documentTitle(0)), []);

  const activeId = client.activeRoomId;
  const room = activeId ? client.dir.rooms.get(activeId) : undefined;
  const showMembers = !!room && (membersOpen ?? wide);

  useEffect(() => {
    if (!drawer) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setDrawer(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [drawer]);

  const openRoom = (id: string) => {
    client.openRoom(id);
    setDrawer(false);
  };
  const closeDialog = () => {
    setDialog(null);
    setDrawer(false);
  };
  const logout = () => {
    history.replaceState(null, '', '/');
    auth.logout();
  };

  return (
    <div className={`app${drawer || (!room && !preview) ? ' drawer-open' : ''}${room || preview ? ' has-room' : ''}${showMembers ? ' members-open' : ''}`}
      data-testid="chat-app">
      <h1 className="visually-hidden">Chat</h1>
      <Sidebar client={client} onOpenRoom={openRoom} onDialog={setDialog} onLogout={logout} />
      {drawer && (room || preview) && <div className="drawer-backdrop" onClick={() => setDrawer(false)} aria-hidden="true" />}
      <main className="main">
        {client.notice && (
          <div className="toast" role="alert" data-testid="notice">
            <span>{client.notice.text}</span>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => client.dismissNotice()}><CloseIcon /></button>
          </div>
        )}
        {room ? (
          <ChatView key={room.id} client={client} room={room} membersOpen={showMembers}
            onToggleMembers={() => setMembersOpen(!showMembers)} onMenu={() => setDrawer(true)} />
        ) : preview ? (
          <JoinPrompt client={client} room={preview} onMenu={() => setDrawer(true)} />
        ) : (
          <div className="empty-main" data-testid="no-room">
            {client.loading ? (
              <p className="muted">Loading your rooms…</p>
            ) : client.loadError ? (
              <p className="form-error" role="alert">
                Could not load rooms: {client.loadError}{' '}
                <button type="button" className="link-button" onClick={() => void client.refreshRooms().catch(() => undefined)}>
                  Try again
                </button>
              </p>
            ) : (
              <>
                <h2>Welcome, {client.dir.displayName(client.me.id, client.me.username)}</h2>
                <p className="muted">Pick a conversation, browse public rooms, or start a new one.</p>
                <div className="empty-actions">
                  <button type="button" className="primary" onClick={() => setDialog('browse')}>Browse rooms</button>
                  <button type="button" className="ghost-button" onClick={() => setDialog('create')}>Create a room</button>
                </div>
              </>
            )}
          </div>
        )}
        <Announcer client={client} />
      </main>
      {showMembers && room && !wide && (
        <div className="members-backdrop" onClick={() => setMembersOpen(false)} aria-hidden="true" data-testid="members-backdrop" />
      )}
      {showMembers && room && (
        <MembersPanel client={client} room={room} onClose={() => setMembersOpen(false)} onOpenedDm={() => setDrawer(false)} />
      )}
      {dialog === 'create' && <CreateRoomDialog client={client} onClose={closeDialog} />}
      {dialog === 'browse' && <BrowseRoomsDialog client={client} onClose={closeDialog} />}
      {dialog === 'dm' && <NewDmDialog client={client} onClose={closeDialog} />}
      {dialog === 'profile' && <ProfileDialog client={client} onClose={closeDialog} />}
    </div>
  );
}
