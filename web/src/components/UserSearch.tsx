// Search users by name prefix (GET /api/users?q=) and act on one (DM, add to room).
import { useEffect, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { friendlyError } from '../lib/errors';
import type { UserSummary } from '../lib/types';
import { Avatar } from './Avatar';

interface Props {
  client: ChatClient;
  actionLabel: string;
  onPick: (u: UserSummary) => Promise<void> | void;
  exclude?: string[];
  inputLabel?: string;
  autoFocus?: boolean;
}

export function UserSearch({ client, actionLabel, onPick, exclude = [], inputLabel = 'Find people', autoFocus }: Props) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<UserSummary[]>([]);
  const [state, setState] = useState<'idle' | 'loading' | 'error'>('idle');
  const [busyId, setBusyId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const term = q.trim();
    if (!term) {
      setResults([]);
      setState('idle');
      return;
    }
    const ctl = new AbortController();
    setState('loading');
    const t = setTimeout(() => {
      clientSearch(client, term, ctl.signal).then(
        (users) => {
          setResults(users);
          setState('idle');
        },
        (e) => {
          if (!ctl.signal.aborted) {
            setState('error');
            setError(friendlyError(e));
          }
        },
      );
    }, 250);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [q, client]);

  const skip = new Set([client.me.id, ...exclude]);
  const shown = results.filter((u) => !skip.has(u.id));

  const pick = async (u: UserSummary) => {
    setBusyId(u.id);
    setError(null);
    try {
      await onPick(u);
    } catch (e) {
      setError(friendlyError(e, 'member'));
    } finally {
      setBusyId(null);
    }
  };

  return (
    <div className="user-search">
      <label className="field">
        <span>{inputLabel}</span>
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Start typing a username"
          autoFocus={autoFocus} data-testid="user-search-input" />
      </label>
      {state === 'loading' && <p className="muted">Searching…</p>}
      {error && <p className="form-error" role="alert">{error}</p>}
      {q.trim() && state === 'idle' && shown.length === 0 && <p className="muted">No one found.</p>}
      <ul className="pick-list">
        {shown.map((u) => {
          const name = (u.display_name && u.display_name.trim()) || u.username;
          return (
            <li key={u.id} data-testid="user-search-result" data-user-id={u.id} data-username={u.username}>
              <Avatar userId={u.id} name={name} url={u.avatar_url} size={28}
                presence={!client.connected ? 'unknown' : client.dir.isOnline(u.id) || u.online ? 'online' : 'offline'} />
              <span className="pick-name">
                {name} <span className="muted">@{u.username}</span>
              </span>
              <button type="button" className="small-button" disabled={busyId === u.id} onClick={() => void pick(u)}
                aria-label={`${actionLabel} ${name}`} data-testid="user-search-pick">
                {actionLabel}
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

async function clientSearch(client: ChatClient, q: string, signal: AbortSignal): Promise<UserSummary[]> {
  const res = await client.searchUsers(q, signal);
  for (const u of res) client.dir.upsertUser(u);
  return res;
}
