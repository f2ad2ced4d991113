// SQL as root over the lab host's socket, for benchmarks that reshape a throwaway lab
// instance (load a synthetic log, swap in a variant procedure). Never for a deployment.
import { labContext } from '../../lab/lab';
import { shq } from '../../provisioning/shell';
import { SshSession } from '../ssh';

export interface LabRootSql {
  run(sql: string): Promise<void>;
  close(): void;
}

export async function labRootSql(lab: string, database = 'ztmysql'): Promise<LabRootSql> {
  const ssh = await SshSession.connect(labContext(lab).target);
  return {
    async run(sql: string): Promise<void> {
      const r = await ssh.exec(`sudo -n -- /bin/bash -c ${shq(`mysql --no-defaults --protocol=socket -uroot ${database}`)}`, { stdin: sql });
      if (r.code !== 0) throw new Error(`root SQL on lab ${lab}: ${r.stderr.trim()}`);
    },
    close: () => ssh.close(),
  };
}
