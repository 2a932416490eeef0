// Right panel: a room's members with presence, "message" (start a DM) and, for
// the owner of a private room, adding and removing members.
import { useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import type { Room } from '../lib/types';
import { Avatar } from './Avatar';
import { UserSearch } from './UserSearch';
import { CloseIcon, PlusIcon } from './Icons';

interface Props {
  client: ChatClient;
  room: Room;
  onClose: () => void;
  onOpenedDm: () => void;
}

export function MembersPanel({ client, room, onClose, onOpenedDm }: Props) {
  const { dir, me } = client;
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const listed = dir.members.get(room.id);
  const ids = listed ? listed.map((m) => m.id) : room.members;
  const roles = new Map((listed ?? []).map((m) => [m.id, m.role]));
  const isOwner = room.creator_id === me.id;
  const canManage = isOwner && room.is_private && !dir.isDm(room);
  const sorted = [...ids].sort((a, b) => {
    const oa = dir.isOnline(a) ? 0 : 1;
    const ob = dir.isOnline(b) ? 0 : 1;
    return oa - ob || dir.displayName(a).localeCompare(dir.displayName(b));
  });

  const run = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e instanceof Error ? e.message : 'That did not work.');
    }
  };

  return (
    <aside className="members-panel" data-testid="members-panel" aria-label="Members">
      <header className="panel-header">
        <h2>Members <span className="muted">({ids.length})</span></h2>
        <button type="button" className="icon-button" aria-label="Close members" onClick={onClose}><CloseIcon /></button>
      </header>
      {error && <p className="form-error" role="alert">{error}</p>}
      <ul className="member-list">
        {sorted.map((id) => {
          const u = dir.users.get(id);
          const name = dir.displayName(id);
          const online = dir.isOnline(id);
          const role = roles.get(id) ?? (id === room.creator_id ? 'owner' : undefined);
          return (
            <li key={id} className="member" data-testid="member" data-user-id={id} data-username={u?.username ?? ''}
              data-online={online ? 'true' : 'false'}>
              <Avatar userId={id} name={name} url={u?.avatar_url} size={28} online={online} />
              <span className="member-name">
                <span className="member-name-text">{name}</span>
                {id === me.id && <span className="muted">(you)</span>}
                {role && role !== 'member' && <span className="role-tag">{role}</span>}
                <span className="visually-hidden">{online ? ', online' : ', offline'}</span>
              </span>
              {id !== me.id && !dir.isDm(room) && (
                <button type="button" className="small-button" aria-label={`Message ${name}`}
                  onClick={() => void run(async () => { await client.startDm(id); onOpenedDm(); })} data-testid="member-dm-button">
                  Message
                </button>
              )}
              {canManage && id !== me.id && (
                <button type="button" className="small-button danger" aria-label={`Remove ${name}`}
                  onClick={() => void run(() => client.removeMember(room.id, id))} data-testid="member-remove-button">
                  Remove
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {canManage && (
        <div className="panel-section">
          {adding ? (
            <UserSearch client={client} actionLabel="Add" inputLabel="Add a member" exclude={ids} autoFocus
              onPick={(u) => client.addMember(room.id, u.id)} />
          ) : (
            <button type="button" className="small-button" onClick={() => setAdding(true)} data-testid="add-member-button">
              <PlusIcon size={14} /> Add member
            </button>
          )}
        </div>
      )}
    </aside>
  );
}
