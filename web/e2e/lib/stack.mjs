// Starts and stops the real chat stack for the e2e tests:
// `python3 ../tests/harness/stack.py serve --gateways N --state-file F`, run from web/,
// then waits for the state file ({http_url, gateway_ports, pids}) and for the page.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO_DIR = resolve(WEB_DIR, '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the stack; resolves to {httpUrl, state, stop(), logPath}. Rejects (never hangs)
 * when the harness is missing, exits early, or is not ready within `timeoutMs`.
 */
export async function startStack({ gateways = 2, timeoutMs = Number(process.env.E2E_STACK_TIMEOUT_MS) || 60_000 } = {}) {
  const script = process.env.E2E_STACK_SCRIPT || resolve(REPO_DIR, 'tests/harness/stack.py');
  if (!existsSync(script)) {
    throw new Error(`stack harness not found: ${script} (the e2e tests need the real servers)`);
  }
  if (!existsSync(join(WEB_DIR, 'dist', 'index.html'))) {
    throw new Error('web/dist is missing: run `vite build` first (npm run e2e does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  const stateFile = join(dir, 'state.json');
  const logPath = join(dir, 'stack.log');
  const log = createWriteStream(logPath);
  let tail = '';
  const keep = (buf) => {
    log.write(buf);
    tail = (tail + buf.toString()).slice(-4000);
  };
  const cmd = script.endsWith('.py') ? 'python3' : process.execPath;
  const child = spawn(cmd, [script, 'serve', '--gateways', String(gateways), '--state-file', stateFile], {
    cwd: WEB_DIR,
    env: {
      ...process.env,
      RATE_MSG_PER_SEC: '0',
      RATE_API_PER_SEC: '0',
      RATE_LOGIN_PER_MIN: '0',
      RATE_REGISTER_PER_HOUR: '0',
      RATE_MEMBERSHIP_PER_MIN: '0',
      WS_FRAME_RATE: '1000000',
      WS_FRAME_BURST: '1000000',
      BCRYPT_COST: '4', // cheap hashing for the test stack,
      BCRYPT_ALLOW_WEAK: '1', // which the servers refuse without this switch
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a stuck stack can be killed whole
  });
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((r) => child.on('exit', (code, sig) => r((exited = { code, sig }))));
  child.on('error', (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  const killGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* gone */
    }
  };
  const onExit = () => killGroup('SIGKILL');
  process.on('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* gone */
      }
      const t = await Promise.race([exitPromise, sleep(20_000).then(() => 'timeout')]);
      if (t === 'timeout') killGroup('SIGKILL');
    }
    killGroup('SIGKILL'); // anything the harness left behind in its group
    process.off('exit', onExit);
    log.end();
  };

  const fail = async (why) => {
    await stop();
    throw new Error(`${why}\n--- stack log (${logPath}) tail ---\n${tail}`);
  };

  const deadline = Date.now() + timeoutMs;
  let state = null;
  while (!state) {
    if (exited) return fail(`stack exited early (code ${exited.code}, signal ${exited.sig})`);
    if (Date.now() > deadline) return fail(`stack not ready within ${timeoutMs} ms (no state file)`);
    if (existsSync(stateFile)) {
      try {
        const s = JSON.parse(readFileSync(stateFile, 'utf8'));
        if (s && typeof s.http_url === 'string') state = s;
      } catch {
        /* being written */
      }
    }
    if (!state) await sleep(200);
  }
  const httpUrl = state.http_url.replace(/\/$/, '');
  // The page itself must be served (built web/dist at /).
  while (true) {
    if (exited) return fail('stack exited while starting');
    if (Date.now() > deadline + 30_000) return fail(`${httpUrl}/ did not serve the web app`);
    try {
      const res = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(3000) });
      if (res.ok && (await res.text()).includes('id="root"')) break;
    } catch {
      /* not yet */
    }
    await sleep(300);
  }
  return { httpUrl, state, stop, logPath, logTail: () => tail };
}

/** Kills one gateway process named in the state file ("gateway0", ...). */
export function killGateway(state, name = 'gateway0') {
  const pid = state?.pids?.[name];
  if (!pid) return false;
  process.kill(pid, 'SIGKILL');
  return true;
}
