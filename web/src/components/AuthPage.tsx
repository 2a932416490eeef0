// Login and registration page, with the reason when a session ended (expired or revoked).
// Log in with an email or a username; registration refuses common passwords (the list
// the server uses too) and every error is worded for people.
import { useState, type FormEvent } from 'react';
import type { AuthStore } from '../lib/auth';
import { friendlyError } from '../lib/errors';
import { passwordProblem } from '../lib/passwordPolicy';
import { LogoIcon } from './Icons';

type Mode = 'login' | 'register';

export function AuthPage({ auth }: { auth: AuthStore }) {
  const [mode, setMode] = useState<Mode>('login');
  const [username, setUsername] = useState('');
  const [login, setLogin] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const notice = auth.message;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (mode === 'login' && (!login.trim() || !password)) {
      setError('Enter your email or username and your password.');
      return;
    }
    setBusy(true);
    try {
      if (mode === 'register') {
        if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username.trim())) {
          throw new Error('Usernames are 3 to 32 letters, digits, dots, dashes or underscores.');
        }
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) throw new Error('Please enter a valid email address, like name@example.com.');
        const problem = await passwordProblem(password);
        if (problem) throw new Error(problem);
        await auth.register(username.trim(), email.trim(), password);
      } else {
        await auth.login(login, password);
      }
    } catch (err) {
      setError(friendlyError(err, mode));
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
          <button type="button" role="tab" id="tab-login" aria-selected={mode === 'login'} aria-controls="auth-panel"
            data-testid="tab-login" className={mode === 'login' ? 'active' : ''} onClick={() => switchTo('login')}>
            Log in
          </button>
          <button type="button" role="tab" id="tab-register" aria-selected={mode === 'register'} aria-controls="auth-panel"
            data-testid="tab-register" className={mode === 'register' ? 'active' : ''} onClick={() => switchTo('register')}>
            Register
          </button>
        </div>
        <div id="auth-panel" role="tabpanel" aria-labelledby={`tab-${mode}`}>
        <form onSubmit={submit} className="form" noValidate data-testid={`${mode}-form`}>
          {mode === 'register' ? (
            <>
              <label className="field">
                <span>Username</span>
                <input value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username"
                  required minLength={3} maxLength={32} data-testid="register-username" autoFocus />
              </label>
              <label className="field">
                <span>Email</span>
                <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email"
                  required data-testid="register-email" />
              </label>
            </>
          ) : (
            <label className="field">
              <span>Email or username</span>
              <input type="text" value={login} onChange={(e) => setLogin(e.target.value)} autoComplete="username"
                autoCapitalize="none" spellCheck={false} required data-testid="login-email" autoFocus />
            </label>
          )}
          <label className="field">
            <span>Password</span>
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)}
              autoComplete={mode === 'login' ? 'current-password' : 'new-password'} required
              minLength={mode === 'register' ? 8 : undefined} maxLength={128} data-testid={`${mode}-password`}
              aria-describedby={mode === 'register' ? 'password-hint' : undefined} />
          </label>
          {mode === 'register' && (
            <p id="password-hint" className="field-hint muted">At least 8 characters. Common passwords are refused.</p>
          )}
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
      </div>
    </main>
  );
}
