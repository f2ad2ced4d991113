// Valid settings and inputs for plan rendering tests: a throwaway openssl PKI in a
// temp dir, issued with the same names the plan expects.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProvisioningSettings } from '../../../provisioning/settings';
import { ensureLabPki, LabPki } from '../../../lab/pki';
import { labInputs } from '../../../lab/lab';

export const SETTINGS: ProvisioningSettings = {
  hostAddress: '198.18.77.2',
  serverName: 'db.example.test',
  deployUser: 'deployer',
  deployRanges: ['198.18.77.1/32'],
  clientRanges: ['198.18.77.0/28', '198.18.78.0/24'],
  principals: [
    { name: 'owner', role: 'owner' },
    { name: 'app', role: 'app' },
    { name: 'auditor', role: 'auditor' },
  ],
  deploymentName: 'unit',
};

export const PASSWORDS: Record<string, string> = {
  owner: 'Owner-Pass-0123456789abcdef',
  app: 'App.Pass:0123456789ABCDEFab',
  auditor: 'Auditor_Pass#0123456789abcd',
};

export interface PkiFixture {
  readonly dir: string;
  readonly pki: LabPki;
  readonly inputs: Record<string, string>;
  cleanup(): void;
}

export function makePki(settings: ProvisioningSettings = SETTINGS): PkiFixture {
  const dir = mkdtempSync(join(tmpdir(), 'ztmysql-unit-pki-'));
  const pki = ensureLabPki({
    dir, organization: 'ztmysql', deploymentName: settings.deploymentName, serverName: settings.serverName,
    serverAddress: settings.hostAddress, principals: settings.principals.map((p) => p.name), revokedProbeFor: 'app',
  });
  const inputs = labInputs(pki, PASSWORDS);
  return { dir, pki, inputs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
