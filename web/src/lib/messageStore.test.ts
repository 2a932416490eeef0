// Unit tests of MessageStore: seq ordering, de-duplication, pending/ack and resume bookkeeping.
import { describe, expect, it } from 'vitest';
import { MessageStore } from './messageStore';
import type { WireMessage } from './types';

const R = 'room1';
function msg(seq: number, extra: Partial<WireMessage> = {}): WireMessage {
  return {
    id: `id${seq}`,
    room_id: R,
    user_id: 'u2',
    username: 'bob',
    content: `m${seq}`,
    type: 'text',
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(),
    seq,
    ...extra,
  };
}
const seqs = (s: MessageStore, room = R) => s.messages(room).map((m) => m.seq);

describe('ordering by seq', () => {
  it('keeps messages sorted whatever the arrival order', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(5), msg(2)]);
    s.addMessages(R, [msg(9), msg(1), msg(7)]);
    expect(seqs(s)).toEqual([1, 2, 5, 7, 9]);
  });

  it('puts an older history page before live messages', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(51), msg(52), msg(53)]);
    s.addMessages(R, Array.from({ length: 50 }, (_, i) => msg(i + 1)));
    expect(seqs(s)).toEqual(Array.from({ length: 53 }, (_, i) => i + 1));
    expect(s.firstSeq(R)).toBe(1);
  });

  it('keeps rooms apart and ignores messages of another room', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1)]);
    s.addMessages('room2', [msg(1, { room_id: 'room2', content: 'other' })]);
    s.addMessages(R, [msg(2, { room_id: 'room2' })]);
    expect(seqs(s)).toEqual([1]);
    expect(s.messages('room2')[0].content).toBe('other');
  });
});

describe('de-duplication', () => {
  it('shows each seq once across history, replay and live copies', () => {
    const s = new MessageStore();
    expect(s.addMessages(R, [msg(1), msg(2), msg(3)])).toHaveLength(3);
    expect(s.addMessages(R, [msg(2), msg(3), msg(4)])).toHaveLength(1);
    expect(s.addMessages(R, [msg(4)])).toHaveLength(0);
    expect(seqs(s)).toEqual([1, 2, 3, 4]);
  });

  it('returns the same view object while nothing changes', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1)]);
    const a = s.messages(R);
    s.addMessages(R, [msg(1)]);
    expect(s.messages(R)).toBe(a);
    s.addMessages(R, [msg(2)]);
    expect(s.messages(R)).not.toBe(a);
  });
});

describe('pending and ack', () => {
  const me = { user_id: 'me', username: 'alice' };

  it('shows a pending message after confirmed ones and confirms it on ack', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1)]);
    s.addPending(R, { ...me, client_msg_id: 'c1', content: 'hi' });
    let view = s.messages(R);
    expect(view.map((m) => m.status)).toEqual(['sent', 'pending']);
    expect(s.unacked().map((m) => m.client_msg_id)).toEqual(['c1']);

    expect(s.ack({ type: 'ack', client_msg_id: 'c1', id: 'srv2', seq: 2, timestamp: '2025-01-01T00:00:02Z' })).toBe(R);
    view = s.messages(R);
    expect(view.map((m) => [m.seq, m.status, m.id])).toEqual([
      [1, 'sent', 'id1'],
      [2, 'sent', 'srv2'],
    ]);
    expect(s.unacked()).toEqual([]);
    // the broadcast copy of our own message arrives later: not doubled
    s.addMessages(R, [msg(2, { id: 'srv2', user_id: 'me', content: 'hi' })]);
    expect(seqs(s)).toEqual([1, 2]);
  });

  it('does not double a message whose broadcast arrives before its ack', () => {
    const s = new MessageStore();
    s.addPending(R, { ...me, client_msg_id: 'c1', content: 'hello' });
    s.addMessages(R, [msg(7, { user_id: 'me', username: 'alice', content: 'hello' })]);
    expect(s.messages(R).map((m) => [m.seq, m.status])).toEqual([[7, 'sent']]);
    // still tracked, so a reconnect before the ack resends it (server dedupes by id)
    expect(s.unacked()).toHaveLength(1);
    s.ack({ type: 'ack', client_msg_id: 'c1', id: 'id7', seq: 7, timestamp: 'x' });
    expect(s.messages(R)).toHaveLength(1);
    expect(s.unacked()).toHaveLength(0);
  });

  it('matches an echo carrying client_msg_id exactly', () => {
    const s = new MessageStore();
    s.addPending(R, { ...me, client_msg_id: 'c1', content: 'same' });
    s.addPending(R, { ...me, client_msg_id: 'c2', content: 'same' });
    s.addMessages(R, [msg(3, { user_id: 'me', content: 'same', client_msg_id: 'c2' })]);
    expect(s.unacked().map((m) => m.client_msg_id)).toEqual(['c1']);
    expect(s.messages(R).map((m) => m.seq ?? m.client_msg_id)).toEqual([3, 'c1']);
  });

  it('does not move the resume point on an ack', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(10)]);
    s.addPending(R, { ...me, client_msg_id: 'c1', content: 'x' });
    s.ack({ type: 'ack', client_msg_id: 'c1', id: 'a', seq: 12, timestamp: 't' });
    // seq 11 (someone else's) may still be on its way: resume must ask for it
    expect(s.lastSeq(R)).toBe(10);
    expect(s.newestSeq(R)).toBe(12);
    s.addMessages(R, [msg(11), msg(12, { user_id: 'me', content: 'x' })]);
    expect(s.lastSeq(R)).toBe(12);
    expect(seqs(s)).toEqual([10, 11, 12]);
  });

  it('marks failures, retries with the same id and discards', () => {
    const s = new MessageStore();
    s.addPending(R, { ...me, client_msg_id: 'c1', content: 'x' });
    s.fail('c1', 'You are not a member of this room.');
    expect(s.messages(R)[0]).toMatchObject({ status: 'failed', error: 'You are not a member of this room.' });
    expect(s.unacked()).toHaveLength(0);
    const again = s.retry('c1');
    expect(again).toMatchObject({ status: 'pending', client_msg_id: 'c1', error: undefined });
    expect(s.unacked()).toHaveLength(1);
    s.discard('c1');
    expect(s.messages(R)).toHaveLength(0);
    expect(s.ack({ type: 'ack', client_msg_id: 'c1', id: 'a', seq: 1, timestamp: 't' })).toBeNull();
  });

  it('ignores an ack for an unknown client_msg_id', () => {
    const s = new MessageStore();
    expect(s.ack({ type: 'ack', client_msg_id: 'nope', id: 'a', seq: 1, timestamp: 't' })).toBeNull();
    expect(s.messages(R)).toEqual([]);
  });
});

describe('resume bookkeeping', () => {
  it('tracks the last seq seen per room', () => {
    const s = new MessageStore();
    expect(s.lastSeq(R)).toBeUndefined();
    s.addMessages(R, [msg(3), msg(4)]);
    s.addMessages('r2', [msg(8, { room_id: 'r2' })]);
    s.addMessages(R, [msg(1)]); // an older page does not lower it
    expect(s.resumePoints()).toEqual({ [R]: 4, r2: 8 });
  });

  it('replay after a reconnect fills the gap once, in order', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1), msg(2), msg(3)]);
    const after = s.lastSeq(R)!;
    // the server replays everything after `after`, possibly overlapping live copies
    const replay = [msg(4), msg(5), msg(6)].filter((m) => m.seq > after);
    s.addMessages(R, [msg(5)]);
    s.addMessages(R, replay);
    s.addMessages(R, [msg(6), msg(7)]);
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(s.lastSeq(R)).toBe(7);
  });

  it('counts unread messages of others after a read position', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1), msg(2), msg(3, { user_id: 'me' }), msg(4, { type: 'system' }), msg(5)]);
    expect(s.countAfter(R, 1, 'me')).toBe(2);
    expect(s.countAfter(R, 5, 'me')).toBe(0);
  });

  it('forgets a room', () => {
    const s = new MessageStore();
    s.addMessages(R, [msg(1)]);
    s.addPending(R, { user_id: 'me', username: 'a', client_msg_id: 'c', content: 'x' });
    s.dropRoom(R);
    expect(s.messages(R)).toEqual([]);
    expect(s.lastSeq(R)).toBeUndefined();
    expect(s.unacked()).toEqual([]);
  });
});
