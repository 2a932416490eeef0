// Top-level component: shows the login/register page or the chat, following the session.
import { useEffect, useState } from 'react';
import { AuthStore } from './lib/auth';
import { AuthPage } from './components/AuthPage';
import { ChatApp } from './components/ChatApp';

export function App() {
  const [auth] = useState(() => new AuthStore());
  const [, setTick] = useState(0);
  useEffect(() => auth.subscribe(() => setTick((n) => n + 1)), [auth]);
  const session = auth.current;
  useEffect(() => (session ? auth.startAutoRefresh() : undefined), [auth, session?.user.id]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!session) return <AuthPage auth={auth} />;
  return <ChatApp key={session.user.id} auth={auth} />;
}
