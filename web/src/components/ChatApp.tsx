// The logged-in app: owns the ChatClient and lays out sidebar, chat view,
// members panel and dialogs (sidebar becomes a drawer on narrow screens).
import { useEffect, useState } from 'react';
import { useMediaQuery, useStore } from '../hooks';
import type { AuthStore } from '../lib/auth';
import { ChatClient } from '../lib/chatClient';
import { ChatView } from './ChatView';
import { BrowseRoomsDialog, CreateRoomDialog, NewDmDialog, ProfileDialog } from './Dialogs';
import { MembersPanel } from './MembersPanel';
import { Sidebar, type DialogKind } from './Sidebar';
import { CloseIcon } from './Icons';

export function ChatApp({ auth }: { auth: AuthStore }) {
  const [client] = useState(() => new ChatClient(auth));
  useStore(client, client.getVersion);
  const wide = useMediaQuery('(min-width: 1200px)');
  const [drawer, setDrawer] = useState(false);
  const [membersOpen, setMembersOpen] = useState<boolean | null>(null);
  const [dialog, setDialog] = useState<DialogKind | null>(null);

  useEffect(() => {
    void client.start();
    return () => client.stop();
  }, [client]);

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

  return (
    <div className={`app${drawer || !room ? ' drawer-open' : ''}${room ? ' has-room' : ''}${showMembers ? ' members-open' : ''}`}
      data-testid="chat-app">
      <Sidebar client={client} onOpenRoom={openRoom} onDialog={setDialog} onLogout={() => auth.logout()} />
      {drawer && room && <div className="drawer-backdrop" onClick={() => setDrawer(false)} aria-hidden="true" />}
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
      </main>
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
