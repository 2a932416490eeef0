// The common-password rule of registration (NIST SP 800-63B): the same list the server
// uses, common/data/common-passwords.txt, bundled at build time into its own chunk
// that is only fetched when someone registers.

export const COMMON_PASSWORD_MESSAGE = 'This password is too common. Please choose one that is harder to guess.';

let list: Promise<Set<string>> | null = null;

/** Parses the file: one password per line, compared in lower case. */
export function parsePasswordList(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const p = line.trim().toLowerCase();
    if (p) out.add(p);
  }
  return out;
}

/** Loads (once) the shipped list. */
export function commonPasswords(): Promise<Set<string>> {
  if (!list) {
    list = import('../../../common/data/common-passwords.txt?raw').then((m) => parsePasswordList(m.default));
    list.catch(() => {
      list = null; // a failed chunk load may be retried
    });
  }
  return list;
}

/** True when the password is on the list (case-insensitive). */
export async function isCommonPassword(password: string): Promise<boolean> {
  const set = await commonPasswords();
  return set.has(password.toLowerCase());
}

/** The reason to refuse a new password, or null. The server checks the same rules. */
export async function passwordProblem(password: string): Promise<string | null> {
  if (password.length < 8) return 'Passwords need at least 8 characters.';
  if (new TextEncoder().encode(password).length > 72) return 'That password is too long (at most 72 bytes).';
  try {
    if (await isCommonPassword(password)) return COMMON_PASSWORD_MESSAGE;
  } catch {
    /* list not loadable (offline?): the server still checks */
  }
  return null;
}
