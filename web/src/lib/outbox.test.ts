// Unit tests of the Outbox: ack handling, resend after reconnect with the same id, error frames.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageStore } from './messageStore';
import { Outbox } from './outbox';

const R = 'r1';
let open = true;
let sent: Array<Record<string, unknown>> = [];
let store: MessageStore;
let outbox: Outbox;

function queue(content: string, id: string) {
  return store.addPending(R, { user_id: 'me', username: 'alice', client_msg_id: id, content });
}

beforeEach(() => {
  vi.useFakeTimers();
  open = true;
  sent = [];
  store = new MessageStore();
  outbox = new Outbox(store, (f) => (open ? (sent.push(f as Record<string, unknown>), true) : false), () => {}, 1000);
});
afterEach(() => {
  outbox.stop();
  vi.useRealTimers();
});

describe('Outbox', () => {
  it('sends with client_msg_id and confirms on ack', () => {
    outbox.transmit(queue('hi', 'c1'));
    expect(sent).toEqual([{ type: 'message', room_id: R, content: 'hi', client_msg_id: 'c1' }]);
    expect(outbox.onAck({ type: 'ack', client_msg_id: 'c1', id: 'x', seq: 1, timestamp: 't' })).toBe(R);
    vi.advanceTimersByTime(5000);
    expect(store.messages(R)[0].status).toBe('sent');
  });

  it('keeps messages queued while disconnected and resends once with the same id', () => {
    open = false;
    outbox.transmit(queue('a', 'c1'));
    outbox.transmit(queue('b', 'c2'));
    expect(sent).toEqual([]);
    open = true;
    outbox.resendAll();
    expect(sent.map((f) => f.client_msg_id)).toEqual(['c1', 'c2']);
    outbox.onAck({ type: 'ack', client_msg_id: 'c1', id: 'x1', seq: 1, timestamp: 't' });
    // a second reconnect before c2's ack: only c2 again, same id
    outbox.resendAll();
    expect(sent.map((f) => f.client_msg_id)).toEqual(['c1', 'c2', 'c2']);
  });

  it('fails a message without ack in time, and retries it after a reconnect', () => {
    outbox.transmit(queue('a', 'c1'));
    vi.advanceTimersByTime(1001);
    expect(store.messages(R)[0].status).toBe('failed');
    outbox.resendAll();
    expect(store.messages(R)[0].status).toBe('pending');
    expect(sent.filter((f) => f.client_msg_id === 'c1')).toHaveLength(2);
    // a late ack still confirms it
    outbox.onAck({ type: 'ack', client_msg_id: 'c1', id: 'x1', seq: 4, timestamp: 't' });
    expect(store.messages(R)[0]).toMatchObject({ status: 'sent', seq: 4 });
  });

  it('marks not_member and invalid_message as failed with a reason', () => {
    outbox.transmit(queue('a', 'c1'));
    outbox.transmit(queue('b', 'c2'));
    expect(outbox.onError({ type: 'error', code: 'not_member', client_msg_id: 'c1' })).toBe(true);
    expect(outbox.onError({ type: 'error', code: 'invalid_message', message: 'too long', client_msg_id: 'c2' })).toBe(true);
    const [a, b] = store.messages(R);
    expect(a).toMatchObject({ status: 'failed', error: 'You are not a member of this room.' });
    expect(b).toMatchObject({ status: 'failed', error: 'Message refused: too long' });
    expect(outbox.onError({ type: 'error', code: 'not_member' })).toBe(false);
    outbox.retry('c1');
    expect(sent.filter((f) => f.client_msg_id === 'c1')).toHaveLength(2);
  });

  it('waits retry_after_ms when rate limited, then resends', () => {
    outbox.transmit(queue('a', 'c1'));
    outbox.onError({ type: 'error', code: 'rate_limited', retry_after_ms: 2000, client_msg_id: 'c1' });
    expect(store.messages(R)[0]).toMatchObject({ status: 'pending', error: 'Rate limited, retrying in 2 s' });
    vi.advanceTimersByTime(1999);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    expect(store.messages(R)[0].error).toBeUndefined();
  });

  it('gives up after repeated rate limiting', () => {
    outbox.transmit(queue('a', 'c1'));
    for (let i = 0; i < 6; i++) {
      outbox.onError({ type: 'error', code: 'rate_limited', retry_after_ms: 100, client_msg_id: 'c1' });
      vi.advanceTimersByTime(300);
    }
    expect(store.messages(R)[0].status).toBe('failed');
  });
});
