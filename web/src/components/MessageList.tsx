// Scrollable message history: day separators and grouping (lib/timeline.ts), loads
// older pages when scrolled to the top, sticks to the bottom for new ones.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';
import type { ChatMessage } from '../lib/messageStore';
import { buildTimeline } from '../lib/timeline';
import { MessageItem } from './MessageItem';

interface Props {
  client: ChatClient;
  roomId: string;
  messages: ChatMessage[];
}

export function MessageList({ client, roomId, messages }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const snapshot = useRef<{ height: number; top: number; firstKey?: string; lastKey?: string }>({ height: 0, top: 0 });
  const [showJump, setShowJump] = useState(false);
  const hasOlder = client.store.hasOlder(roomId) && client.store.isHistoryLoaded(roomId);
  const loadingOlder = client.isLoadingOlder(roomId);
  const loaded = client.store.isHistoryLoaded(roomId);
  const day = new Date().toDateString(); // labels change at midnight
  const rows = useMemo(() => buildTimeline(messages), [messages, day]); // eslint-disable-line react-hooks/exhaustive-deps

  // Before each commit, remember where we were (like getSnapshotBeforeUpdate).
  const el = ref.current;
  if (el) snapshot.current = { ...snapshot.current, height: el.scrollHeight, top: el.scrollTop };

  const scrollToBottom = useCallback(() => {
    const e = ref.current;
    if (e) e.scrollTop = e.scrollHeight;
    atBottom.current = true;
    setShowJump(false);
  }, []);

  useLayoutEffect(() => {
    const e = ref.current;
    if (!e) return;
    const first = messages[0]?.key;
    const last = messages[messages.length - 1];
    const snap = snapshot.current;
    if (snap.firstKey && first !== snap.firstKey && last?.key === snap.lastKey) {
      // Older messages were prepended: keep the same messages under the eyes.
      e.scrollTop = snap.top + (e.scrollHeight - snap.height);
    } else if (atBottom.current || (last && last.user_id === client.me.id && last.key !== snap.lastKey)) {
      scrollToBottom();
    } else if (last && last.key !== snap.lastKey) {
      setShowJump(true);
    }
    snapshot.current = { height: e.scrollHeight, top: e.scrollTop, firstKey: first, lastKey: last?.key };
  }, [messages, client.me.id, scrollToBottom]);

  useEffect(() => {
    scrollToBottom();
  }, [roomId, scrollToBottom]);

  // A short history that does not fill the view: fetch more right away.
  useEffect(() => {
    const e = ref.current;
    if (e && hasOlder && !loadingOlder && e.scrollHeight <= e.clientHeight + 20) void client.loadOlder(roomId);
  }, [hasOlder, loadingOlder, messages.length, client, roomId]);

  const onScroll = () => {
    const e = ref.current;
    if (!e) return;
    atBottom.current = e.scrollHeight - e.scrollTop - e.clientHeight < 48;
    if (atBottom.current) setShowJump(false);
    if (e.scrollTop < 150 && hasOlder && !loadingOlder) void client.loadOlder(roomId);
  };

  const connected = client.connection.state === 'connected';
  const retry = useCallback((id: string) => client.retry(id), [client]);
  const discard = useCallback((id: string) => client.discard(id), [client]);

  return (
    <div className="message-scroll" ref={ref} onScroll={onScroll} data-testid="message-scroll">
      <div className="history-top">
        {loadingOlder && <span className="muted" data-testid="loading-older">Loading older messages…</span>}
        {!loadingOlder && hasOlder && (
          <button type="button" className="link-button" onClick={() => void client.loadOlder(roomId)}
            data-testid="load-older">
            Load older messages
          </button>
        )}
        {loaded && !hasOlder && messages.length > 0 && <span className="muted">This is the start of the conversation.</span>}
        {!loaded && <span className="muted">Loading…</span>}
      </div>
      {loaded && messages.length === 0 && (
        <p className="empty-room muted" data-testid="empty-room">No messages yet. Say hello!</p>
      )}
      <ol className="message-list" data-testid="message-list" aria-label="Messages">
        {rows.map((row) =>
          row.kind === 'day' ? (
            <li key={row.key} className="day-separator" data-testid="day-separator">
              <h3>{row.label}</h3>
            </li>
          ) : (
            <MessageItem key={row.key} msg={row.msg} name={client.dir.displayName(row.msg.user_id, row.msg.username)}
              avatarUrl={client.dir.users.get(row.msg.user_id)?.avatar_url} compact={row.compact}
              mine={row.msg.user_id === client.me.id} connected={connected} onRetry={retry} onDiscard={discard} />
          ),
        )}
      </ol>
      {showJump && (
        <button type="button" className="jump-button" onClick={scrollToBottom} data-testid="jump-to-latest">
          New messages ↓
        </button>
      )}
    </div>
  );
}
