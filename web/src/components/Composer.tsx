// Message box: Enter sends, Shift+Enter adds a newline, a length counter near
// the 4,000-character limit, and throttled typing notifications.
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { ChatClient } from '../lib/chatClient';
import { MAX_MESSAGE_CHARS, charCount } from '../lib/format';

const drafts = new Map<string, string>();
const COUNTER_FROM = MAX_MESSAGE_CHARS - 500;

export function Composer({ client, roomId, label }: { client: ChatClient; roomId: string; label: string }) {
  const [text, setText] = useState(() => drafts.get(roomId) ?? '');
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<HTMLTextAreaElement>(null);
  const count = charCount(text);
  const over = count > MAX_MESSAGE_CHARS;

  useEffect(() => {
    ref.current?.focus();
  }, [roomId]);

  // Grow with the content, up to a limit set in CSS.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
  }, [text]);

  const update = (v: string) => {
    setText(v);
    drafts.set(roomId, v);
    if (error) setError(null);
    if (v.trim()) client.notifyTyping(roomId);
  };

  const send = () => {
    if (over) {
      setError(`Message is too long (${count}/${MAX_MESSAGE_CHARS}).`);
      return;
    }
    const err = client.send(roomId, text);
    if (err) {
      if (text.trim()) setError(err);
      return;
    }
    setText('');
    drafts.delete(roomId);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <form className="composer" onSubmit={(e) => { e.preventDefault(); send(); }} data-testid="composer">
      <label htmlFor="composer-input" className="visually-hidden">{label}</label>
      <textarea id="composer-input" ref={ref} value={text} rows={1} placeholder={label}
        onChange={(e) => update(e.target.value)} onKeyDown={onKeyDown} aria-describedby="composer-hint composer-counter"
        aria-invalid={over || undefined} data-testid="composer-input" />
      <div className="composer-side">
        {count >= COUNTER_FROM && (
          <span id="composer-counter" className={`char-counter${over ? ' over' : ''}`} data-testid="char-counter"
            aria-live="polite">
            {count.toLocaleString()} / {MAX_MESSAGE_CHARS.toLocaleString()}
          </span>
        )}
        <button type="submit" className="primary send-button" disabled={!text.trim() || over} aria-label="Send message"
          data-testid="send-button">
          Send
        </button>
      </div>
      <p id="composer-hint" className="composer-hint muted">
        {error ? <span className="form-error" role="alert" data-testid="composer-error">{error}</span>
          : <>Enter to send · Shift+Enter for a new line</>}
      </p>
    </form>
  );
}
