// What the message list draws, in order: a day separator before the first message of
// each local day, and each message with whether it is grouped under the previous one
// (same author, same day, within 5 minutes). Pure; unit-tested.

import { dayKey, dayLabel } from './format';
import type { ChatMessage } from './messageStore';

export const GROUP_MS = 5 * 60_000;

export type TimelineRow =
  | { kind: 'day'; key: string; label: string }
  | { kind: 'message'; key: string; msg: ChatMessage; compact: boolean };

function grouped(prev: ChatMessage | undefined, m: ChatMessage): boolean {
  if (!prev || prev.type === 'system' || m.type === 'system' || prev.user_id !== m.user_id) return false;
  if (dayKey(prev.timestamp) !== dayKey(m.timestamp)) return false;
  return Math.abs(Date.parse(m.timestamp) - Date.parse(prev.timestamp)) < GROUP_MS;
}

export function buildTimeline(messages: ChatMessage[], now = new Date()): TimelineRow[] {
  const rows: TimelineRow[] = [];
  let lastDay = '';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const day = dayKey(m.timestamp);
    const newDay = day !== lastDay;
    // keyed by the day's first message: unique even if clocks disagree and a day comes twice
    if (newDay && day) rows.push({ kind: 'day', key: `day:${m.key}`, label: dayLabel(m.timestamp, now) });
    if (day) lastDay = day;
    rows.push({ kind: 'message', key: m.key, msg: m, compact: !newDay && grouped(messages[i - 1], m) });
  }
  return rows;
}
