// Login and registration page, with the reason when a session ended (expired or revoked).
import { useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import type { AuthStore } from '../lib/auth';
import { LogoIcon } from './Icons';

type Mode = 'login' | 'register';

function describe(e: unknown, mode: Mode): string {
  if (e instanceof ApiError) {
    if (mode === 'login' && e.status === 401) return 'Wrong email or password.';
    if (e.status === 409) return e.message || 'That username or email is already taken.';
    if (e.status === 429) return 'Too many attempts. Please wait a moment and try again.';
    return e.message;
  }
  return 'Something went wrong. Please try again.';
}

export function AuthPage({ auth }: { auth: AuthStore }) {
  const [mode, setMode] = useState<Mode>('login');
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const notice = auth.message;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (mode === 'register') {
      if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username.trim())) {
        setError('Username: 3–32 letters, digits, dots, dashes or underscores.');
        return;
      }
      if (password.length < 8) {
        setError('Password: at least 8 characters.');
        return;
      }
    }
    setBusy(true);
    try {
      if (mode === 'login') await auth.login(email, password);
      else await auth.register(username, email, password);
    } catch (err) {
      setError(describe(err, mode));
      setBusy(false);
    }
  }

  const switchTo = (m: Mode) => {
    setMode(m);
    setError(null);
  };

  return (
    <main className="auth-page" data-testid="auth-page">
      <div className="auth-card">
        <div className="brand">
          <LogoIcon size={36} />
          <h1>Chat</h1>
        </div>
        {notice && (
          <p className="banner warn" role="alert" data-testid="auth-message">
            {notice}
          </p>
        )}
        <div className="tabs" role="tablist" aria-label="Account">
          <button type="button" role="tab" aria-selected={mode === 'login'} data-testid="tab-login"
            className={mode === 'login' ? 'active' : ''} onClick={() => switchTo('login')}>
            Log in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'register'} data-testid="tab-register"
            className={mode === 'register' ? 'active' : ''} onClick={() => switchTo('register')}>
            Register
          </button>
        </div>
        <form onSubmit={submit} className="form" noValidate data-testid={`${mode}-form`}>
          {mode === 'register' && (
            <label className="field">
              <span>Username</span>
              <input value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username"
                required minLength={3} maxLength={32} data-testid="register-username" autoFocus />
            </label>
          )}
          <label className="field">
            <span>Email</span>
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email"
              required data-testid={`${mode}-email`} autoFocus={mode === 'login'} />
          </label>
          <label className="field">
            <span>Password</span>
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)}
              autoComplete={mode === 'login' ? 'current-password' : 'new-password'} required
              minLength={mode === 'register' ? 8 : undefined} maxLength={128} data-testid={`${mode}-password`} />
          </label>
          {error && (
            <p className="form-error" role="alert" data-testid="auth-error">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy} data-testid={`${mode}-submit`}>
            {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
          </button>
        </form>
      </div>
    </main>
  );
}
