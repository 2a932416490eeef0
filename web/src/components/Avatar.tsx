// A user's avatar: their http(s) image if any, else initials on a colour from the user id.
import { useState } from 'react';
import { colorFor, initials, safeAvatarUrl } from '../lib/format';

interface Props {
  userId: string;
  name: string;
  url?: string | null;
  size?: number;
  online?: boolean;
}

export function Avatar({ userId, name, url, size = 36, online }: Props) {
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
      {online !== undefined && <PresenceDot online={online} />}
    </span>
  );
}

export function PresenceDot({ online, label }: { online: boolean; label?: string }) {
  return (
    <span
      className={`presence-dot ${online ? 'online' : 'offline'}`}
      data-testid="presence-dot"
      data-online={online ? 'true' : 'false'}
      title={label ?? (online ? 'Online' : 'Offline')}
    />
  );
}
