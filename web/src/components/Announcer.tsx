// A visually hidden live region that reads out new messages of others in the open
// room ("bob: hello"), once each; history loads and our own messages stay silent.
import { useEffect, useRef, useState } from 'react';
import type { ChatClient } from '../lib/chatClient';

const MAX_CHARS = 300;

export function Announcer({ client }: { client: ChatClient }) {
  const roomId = client.activeRoomId;
  const messages = roomId ? client.store.messages(roomId) : null;
  const last = messages && messages.length ? messages[messages.length - 1] : undefined;
  const seen = useRef<{ roomId: string | null; key?: string; loaded?: boolean }>({ roomId: null });
  const [text, setText] = useState('');

  useEffect(() => {
    const prev = seen.current;
    const loaded = !!roomId && client.store.isHistoryLoaded(roomId);
    seen.current = { roomId, key: last?.key, loaded };
    if (prev.roomId !== roomId) return setText(''); // a room was opened: its history is not news
    if (!prev.loaded) return; // the first history page arrived
    if (!last || last.key === prev.key || last.type !== 'text' || last.user_id === client.me.id) return;
    const name = client.dir.displayName(last.user_id, last.username);
    const body = last.content.length > MAX_CHARS ? `${last.content.slice(0, MAX_CHARS)}…` : last.content;
    setText(`${name}: ${body}`);
  }, [roomId, last, client]);

  return (
    <div className="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="live-announcer">
      {text}
    </div>
  );
}
