// Right panel: a room's members with presence, page by page ("Show more"), "message"
// (start a DM) and, for the owner of a private room, adding and removing members.
// DMs show no roles. On small screens it overlays the chat and Escape closes it.
import { useEffect, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { friendlyError } from '../lib/errors';
import type { Room } from '../lib/types';
import { Avatar, presenceText } from './Avatar';
import { UserSearch } from './UserSearch';
import { CloseIcon, PlusIcon } from './Icons';

interface Props {
  client: ChatClient;
  room: Room;
  onClose: () => void;
  onOpenedDm: () => void;
}

const RANK: Record<string, number> = { online: 0, offline: 1, unknown: 1 };

export function MembersPanel({ client, room, onClose, onOpenedDm }: Props) {
  const { dir, me } = client;
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const listed = dir.members.get(room.id);
  const ids = listed ? listed.map((m) => m.id) : room.members;
  const roles = new Map((listed ?? []).map((m) => [m.id, m.role]));
  const isDm = dir.isDm(room);
  const canManage = room.creator_id === me.id && room.is_private && !isDm;
  const total = dir.memberCount(room);
  const sorted = [...ids].sort((a, b) =>
    RANK[client.presence(a)] - RANK[client.presence(b)] || dir.displayName(a).localeCompare(dir.displayName(b)));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('dialog[open]')) onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const run = async (f: () => Promise<void>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(friendlyError(e, 'member'));
    }
  };

  return (
    <aside className="members-panel" data-testid="members-panel" aria-labelledby="members-title">
      <header className="panel-header">
        <h2 id="members-title">Members <span className="muted">({total})</span></h2>
        <button type="button" className="icon-button" aria-label="Close members" onClick={onClose}
          data-testid="members-close">
          <CloseIcon />
        </button>
      </header>
      {error && <p className="form-error" role="alert">{error}</p>}
      <ul className="member-list">
        {sorted.map((id) => {
          const u = dir.users.get(id);
          const name = dir.displayName(id);
          const presence = client.presence(id);
          const role = isDm ? undefined : roles.get(id) ?? (id === room.creator_id ? 'owner' : undefined);
          return (
            <li key={id} className="member" data-testid="member" data-user-id={id} data-username={u?.username ?? ''}
              data-online={presence === 'online' ? 'true' : 'false'} data-presence={presence}>
              <Avatar userId={id} name={name} url={u?.avatar_url} size={28} presence={presence} />
              <span className="member-name">
                <span className="member-name-text">{name}</span>
                {id === me.id && <span className="muted">(you)</span>}
                {role && role !== 'member' && <span className="role-tag" data-testid="role-tag">{role}</span>}
                <span className="visually-hidden">, {presenceText(presence).toLowerCase()}</span>
              </span>
              {id !== me.id && !isDm && (
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
      {dir.hasMoreMembers(room.id) && (
        <div className="panel-section">
          <button type="button" className="small-button" disabled={client.isLoadingMembers(room.id)}
            onClick={() => void client.loadMoreMembers(room.id)} data-testid="members-more">
            {client.isLoadingMembers(room.id) ? 'Loading…' : `Show more (${ids.length} of ${total})`}
          </button>
        </div>
      )}
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
