// Entry point of the lab collector daemon (started by `lab up`, stopped by `lab down`).
import { AnchorCollector } from './collector';

const [dir, host, port, batchSeconds, project, instanceId] = process.argv.slice(2);
if (!dir || !host || !port) {
  console.error('usage: collectorMain DIR HOST PORT [BATCH_SECONDS] [PROJECT] [INSTANCE_ID]');
  process.exit(2);
}
const collector = new AnchorCollector({
  dir, host, port: Number(port), batchSeconds: Number(batchSeconds ?? 60),
  project: project ?? 'ztmysql-lab', instanceId: instanceId ?? 'lab',
  log: (l) => console.error(`${new Date().toISOString()} ${l}`),
});
const shutdown = (): void => {
  collector.stop().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
collector.start().then(
  () => console.error(`${new Date().toISOString()} collector listening on ${host}:${port}, writing ${dir}`),
  (e: Error) => { console.error(`collector: ${e.message}`); process.exit(1); },
);
