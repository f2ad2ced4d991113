// Lab secrets: the deploy SSH key and the principals' MySQL passwords, kept in the
// instance directory with mode 0600 and never printed.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PASSWORD_SPECIALS } from '../provisioning/inputs';
import { run } from './exec';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';

/** A 32-character password in the plan's alphabet with every class the STRONG policy needs. */
export function generatePassword(length = 32): string {
  const all = UPPER + LOWER + DIGITS + PASSWORD_SPECIALS;
  const chars = [UPPER, LOWER, DIGITS, PASSWORD_SPECIALS].map((set) => set[randomInt(set.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

export function ensurePasswords(dir: string, principals: readonly string[]): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'passwords.json');
  const current: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  let dirty = false;
  for (const p of principals) {
    if (!current[p]) {
      current[p] = generatePassword();
      dirty = true;
    }
  }
  if (dirty) writeFileSync(file, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
  return current;
}

export function ensureDeployKey(dir: string): { privateKeyPath: string; publicKey: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key)) run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'ztmysql-lab-deploy', '-f', key]);
  return { privateKeyPath: key, publicKey: readFileSync(`${key}.pub`, 'utf8').trim() };
}
