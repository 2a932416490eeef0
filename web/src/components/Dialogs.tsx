// The app's dialogs: create a room, browse/join public rooms, start a direct
// message, and edit the profile (display name, avatar URL).
import { useEffect, useState, type FormEvent } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { friendlyError } from '../lib/errors';
import { safeAvatarUrl } from '../lib/format';
import { Avatar } from './Avatar';
import { Modal } from './Modal';
import { UserSearch } from './UserSearch';
import { HashIcon } from './Icons';

interface DialogProps {
  client: ChatClient;
  onClose: () => void;
}

const message = (e: unknown) => friendlyError(e, 'room');

export function CreateRoomDialog({ client, onClose }: DialogProps) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [isPrivate, setPrivate] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n || n.length > 100) return setError('Name: 1 to 100 characters.');
    if (description.length > 500) return setError('Description: at most 500 characters.');
    setBusy(true);
    try {
      await client.createRoom(n, description.trim(), isPrivate);
      onClose();
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };

  return (
    <Modal title="Create a room" onClose={onClose} testId="create-room-dialog">
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required autoFocus
            data-testid="room-name-input" />
        </label>
        <label className="field">
          <span>Description <span className="muted">(optional)</span></span>
          <textarea value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} rows={2}
            data-testid="room-description-input" />
        </label>
        <label className="check">
          <input type="checkbox" checked={isPrivate} onChange={(e) => setPrivate(e.target.checked)}
            data-testid="room-private-checkbox" />
          <span>Private: only people you add can see and join it</span>
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        <div className="form-actions">
          <button type="button" className="ghost-button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy} data-testid="create-room-submit">
            {busy ? 'Creating…' : 'Create room'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function memberText(n: number): string {
  return `${n.toLocaleString()} member${n === 1 ? '' : 's'}`;
}

export function BrowseRoomsDialog({ client, onClose }: DialogProps) {
  const [filter, setFilter] = useState('');
  const [busyId, setBusyId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refreshing, setRefreshing] = useState(true);
  useEffect(() => {
    client.refreshRooms().catch(() => undefined).finally(() => setRefreshing(false));
  }, [client]);
  const f = filter.trim().toLowerCase();
  const rooms = client.dir
    .joinableRooms()
    .filter((r) => !f || r.name.toLowerCase().includes(f) || (r.description ?? '').toLowerCase().includes(f));

  const join = async (id: string) => {
    setBusyId(id);
    setError(null);
    try {
      await client.joinRoom(id);
      onClose();
    } catch (e) {
      setError(message(e));
      setBusyId(null);
    }
  };

  return (
    <Modal title="Browse public rooms" onClose={onClose} testId="browse-dialog" wide>
      <div className="browse-head">
        <label className="field grow">
          <span>Filter</span>
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} autoFocus
            placeholder="Room name or topic" data-testid="browse-search" />
        </label>
        <button type="button" className="small-button" onClick={() => void client.refreshRooms().catch(() => undefined)}
          aria-label="Refresh the list of rooms">
          Refresh
        </button>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      {refreshing && rooms.length === 0 && <p className="muted">Loading rooms…</p>}
      {!refreshing && rooms.length === 0 && <p className="muted">No public rooms to join{f ? ' match this filter' : ' right now'}.</p>}
      <ul className="pick-list">
        {rooms.map((r) => (
          <li key={r.id} data-testid="browse-room" data-room-id={r.id} data-room-name={r.name}>
            <span className="room-icon" aria-hidden="true"><HashIcon size={16} /></span>
            <span className="pick-name">
              <strong>{r.name}</strong>
              {r.description && <span className="muted pick-desc">{r.description}</span>}
              <span className="muted pick-desc">{memberText(client.dir.memberCount(r))}</span>
            </span>
            <button type="button" className="primary small" disabled={busyId === r.id} onClick={() => void join(r.id)}
              aria-label={`Join ${r.name}`} data-testid="join-room-button">
              {busyId === r.id ? 'Joining…' : 'Join'}
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}

export function NewDmDialog({ client, onClose }: DialogProps) {
  return (
    <Modal title="New direct message" onClose={onClose} testId="dm-dialog">
      <UserSearch client={client} actionLabel="Message" autoFocus
        onPick={async (u) => {
          await client.startDm(u.id);
          onClose();
        }} />
    </Modal>
  );
}

export function ProfileDialog({ client, onClose }: DialogProps) {
  const me = client.me;
  const [displayName, setDisplayName] = useState(me.display_name ?? '');
  const [avatarUrl, setAvatarUrl] = useState(me.avatar_url ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const url = avatarUrl.trim();
    if (url && !safeAvatarUrl(url)) return setError('Avatar URL must start with http:// or https://');
    if (displayName.length > 64) return setError('Display name: at most 64 characters.');
    setBusy(true);
    setError(null);
    try {
      const patch: { display_name?: string; avatar_url?: string } = {};
      if (displayName.trim() !== (me.display_name ?? '')) patch.display_name = displayName.trim();
      if (url !== (me.avatar_url ?? '')) patch.avatar_url = url;
      if (Object.keys(patch).length) await client.updateProfile(patch);
      setSaved(true);
      setTimeout(onClose, 600);
    } catch (err) {
      setError(friendlyError(err, 'profile'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title="Your profile" onClose={onClose} testId="profile-dialog">
      <form className="form" onSubmit={submit}>
        <div className="profile-preview">
          <Avatar userId={me.id} name={displayName || me.username} url={avatarUrl} size={56} />
          <div>
            <strong>{displayName.trim() || me.username}</strong>
            <div className="muted">@{me.username}{me.email ? ` · ${me.email}` : ''}</div>
          </div>
        </div>
        <label className="field">
          <span>Display name</span>
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={64} autoFocus
            data-testid="profile-display-name" />
        </label>
        <label className="field">
          <span>Avatar URL <span className="muted">(http:// or https://)</span></span>
          <input type="url" value={avatarUrl} onChange={(e) => setAvatarUrl(e.target.value)} placeholder="https://…"
            data-testid="profile-avatar-url" />
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        {saved && <p className="form-ok" role="status">Saved.</p>}
        <div className="form-actions">
          <button type="button" className="ghost-button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy} data-testid="profile-save">
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
