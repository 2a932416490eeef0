// Outgoing messages: sends with a client_msg_id, watches for the ack, retries
// after rate limiting and after a reconnect (same id, so never doubled), and
// marks messages failed with a reason the UI can show.

import type { ChatMessage, MessageStore } from './messageStore';
import type { AckFrame, ErrorFrame } from './types';

export const ACK_TIMEOUT_MS = 15_000;
const MAX_RATE_RETRIES = 5;

export function errorText(f: { code: string; message?: string }): string {
  switch (f.code) {
    case 'not_member':
      return 'You are not a member of this room.';
    case 'invalid_message':
      return f.message ? `Message refused: ${f.message}` : 'The server refused this message.';
    case 'rate_limited':
      return 'Too many messages: slow down a little.';
    default:
      return f.message || f.code.replace(/_/g, ' ');
  }
}

export class Outbox {
  private ackTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Failed only for want of an ack: resent automatically after a reconnect. */
  private autoRetry = new Set<string>();
  private rateRetries = new Map<string, number>();

  constructor(
    private readonly store: MessageStore,
    private readonly sendFrame: (frame: object) => boolean,
    private readonly changed: () => void,
    private readonly ackTimeoutMs = ACK_TIMEOUT_MS,
  ) {}

  /** Sends a pending message now if the socket is open; otherwise it waits for resend(). */
  transmit(m: ChatMessage): void {
    if (m.status !== 'pending' || !m.client_msg_id) return;
    const cmid = m.client_msg_id;
    const ok = this.sendFrame({ type: 'message', room_id: m.room_id, content: m.content, client_msg_id: cmid });
    if (!ok) return;
    this.clearAckTimer(cmid);
    this.ackTimers.set(
      cmid,
      setTimeout(() => {
        this.ackTimers.delete(cmid);
        if (this.store.findPending(cmid)?.status !== 'pending') return;
        this.store.fail(cmid, 'Not confirmed by the server. It will be retried on reconnect.');
        this.autoRetry.add(cmid);
        this.changed();
      }, this.ackTimeoutMs),
    );
  }

  /** After a (re)connect: resend everything unacked with its original id. */
  resendAll(): void {
    for (const id of this.autoRetry) this.store.retry(id);
    this.autoRetry.clear();
    for (const m of this.store.unacked()) this.transmit(m);
  }

  /** The user asked to try a failed message again. */
  retry(cmid: string): void {
    this.autoRetry.delete(cmid);
    this.rateRetries.delete(cmid);
    const m = this.store.retry(cmid);
    if (m) this.transmit(m);
  }

  discard(cmid: string): void {
    this.autoRetry.delete(cmid);
    this.rateRetries.delete(cmid);
    this.clearAckTimer(cmid);
    this.store.discard(cmid);
  }

  /** Returns the room id the ack belonged to, if it was ours. */
  onAck(f: AckFrame): string | null {
    this.clearAckTimer(f.client_msg_id);
    this.autoRetry.delete(f.client_msg_id);
    this.rateRetries.delete(f.client_msg_id);
    return this.store.ack(f);
  }

  /** Handles an error frame that names one of our messages; false if it is not ours. */
  onError(f: ErrorFrame): boolean {
    const cmid = f.client_msg_id;
    if (!cmid || !this.store.findPending(cmid)) return false;
    this.clearAckTimer(cmid);
    if (f.code !== 'rate_limited') {
      this.store.fail(cmid, errorText(f));
      return true;
    }
    const n = this.rateRetries.get(cmid) ?? 0;
    if (n >= MAX_RATE_RETRIES) {
      this.store.fail(cmid, 'Rate limited: too many messages. Try again in a moment.');
      return true;
    }
    const wait = Math.max(250, Number(f.retry_after_ms) || 1000);
    this.rateRetries.set(cmid, n + 1);
    this.store.note(cmid, `Rate limited, retrying in ${Math.ceil(wait / 1000)} s`);
    const t = setTimeout(() => {
      this.retryTimers.delete(t);
      const p = this.store.findPending(cmid);
      if (!p || p.status !== 'pending') return;
      this.store.note(cmid, undefined);
      this.transmit(this.store.findPending(cmid) ?? p);
      this.changed();
    }, wait);
    this.retryTimers.add(t);
    return true;
  }

  private clearAckTimer(cmid: string): void {
    const t = this.ackTimers.get(cmid);
    if (t) clearTimeout(t);
    this.ackTimers.delete(cmid);
  }

  stop(): void {
    for (const t of this.ackTimers.values()) clearTimeout(t);
    for (const t of this.retryTimers) clearTimeout(t);
    this.ackTimers.clear();
    this.retryTimers.clear();
  }
}
