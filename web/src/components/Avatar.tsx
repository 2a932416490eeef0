// A user's avatar: their http(s) image if any, else initials on a colour from the user id;
// and the presence dot (online, offline, or unknown while we are disconnected).
import { useState } from 'react';
import type { Presence } from '../lib/chatCore';
import { colorFor, initials, safeAvatarUrl } from '../lib/format';

interface Props {
  userId: string;
  name: string;
  url?: string | null;
  size?: number;
  presence?: Presence;
}

export function Avatar({ userId, name, url, size = 36, presence }: Props) {
  const safe = safeAvatarUrl(url);
  const [broken, setBroken] = useState<string | null>(null);
  const showImg = safe && broken !== safe;
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.4 }} aria-hidden="true">
      {showImg ? (
        <img src={safe} alt="" referrerPolicy="no-referrer" loading="lazy" onError={() => setBroken(safe)} />
      ) : (
        <span className="avatar-initials" style={{ background: colorFor(userId) }}>
          {initials(name)}
        </span>
      )}
      {presence !== undefined && <PresenceDot presence={presence} />}
    </span>
  );
}

const PRESENCE_TEXT: Record<Presence, string> = {
  online: 'Online',
  offline: 'Offline',
  unknown: 'Presence unknown while disconnected',
};

export function presenceText(p: Presence): string {
  return PRESENCE_TEXT[p];
}

export function PresenceDot({ presence, label }: { presence: Presence; label?: string }) {
  return (
    <span
      className={`presence-dot ${presence}`}
      data-testid="presence-dot"
      data-presence={presence}
      data-online={presence === 'online' ? 'true' : 'false'}
      title={label ?? PRESENCE_TEXT[presence]}
    />
  );
}
