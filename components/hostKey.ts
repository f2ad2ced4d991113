// PublishedHostKey: the VM's SSH host key, read through the authenticated Compute API
// (guest attributes "hostkeys/ssh-ed25519", which the guest agent publishes at boot),
// never learned over the network it is meant to protect. The read polls for up to 10
// minutes, runs again whenever the instance is replaced, and fails closed: no key, no
// SSH. Set the stack's `hostKey` config to pin a key obtained another way instead.
import * as pulumi from '@pulumi/pulumi';
import * as command from '@pulumi/command';

const ED25519_KEY = /^ssh-ed25519 [A-Za-z0-9+/]{68}$/;

/** Validates a host key line; throws unless it is exactly one ssh-ed25519 public key. */
export function parseHostKey(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const value = lines.length === 1 ? lines[0] : '';
  const line = /^[A-Za-z0-9+/]{68}$/.test(value) ? `ssh-ed25519 ${value}` : value;
  if (!ED25519_KEY.test(line)) throw new Error('the VM published no valid ssh-ed25519 host key; refusing to connect unpinned');
  return line;
}

/** The polling command (gcloud, authenticated as the deploy identity). */
export function renderHostKeyQuery(project: string, zone: string, instance: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    'for i in $(seq 1 60); do',
    `  k=$(gcloud compute instances get-guest-attributes ${q(instance)} --project ${q(project)} --zone ${q(zone)} --query-path=hostkeys/ssh-ed25519 --format='value(value)' 2>/dev/null || true)`,
    '  if [ -n "$k" ]; then printf "%s\\n" "$k"; exit 0; fi',
    '  sleep 10',
    'done',
    'echo "no ssh-ed25519 host key published in guest attributes" >&2',
    'exit 1',
  ].join('\n');
}

export interface PublishedHostKeyArgs {
  readonly project: pulumi.Input<string>;
  readonly zone: pulumi.Input<string>;
  readonly instanceName: pulumi.Input<string>;
  /** Changes when the VM is replaced (its instanceId), so a new host key is read. */
  readonly instanceId: pulumi.Input<string>;
}

export class PublishedHostKey extends pulumi.ComponentResource {
  readonly hostKey: pulumi.Output<string>;

  constructor(name: string, args: PublishedHostKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:hostKey:PublishedHostKey', name, {}, opts);
    const read = new command.local.Command(`${name}-read`, {
      create: pulumi.all([args.project, args.zone, args.instanceName]).apply(([p, z, i]) => renderHostKeyQuery(p, z, i)),
      interpreter: ['/bin/bash', '-c'],
      triggers: [args.instanceId],
      logging: 'stderr',
    }, { parent: this });
    this.hostKey = read.stdout.apply(parseHostKey);
    this.registerOutputs({ hostKey: this.hostKey });
  }
}
