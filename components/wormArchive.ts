// WormArchive: the audit trust root. A retention-locked bucket receives, through a
// Cloud Logging sink, exactly the anchor lines the host logs every 60 s.
//
// Anchor line contract (host side): the anchor service writes one JSON object per
// line to syslog with tag "ztmysql-anchor"; the Ops Agent receiver named
// "ztmysql-anchor" parses it, so each line arrives in Cloud Logging with
// logName = projects/<project>/logs/ztmysql-anchor and the object as jsonPayload,
// which carries a "ztmysql_anchor_version" field. The sink matches exactly that.
import * as pulumi from '@pulumi/pulumi';
import * as gcp from '@pulumi/gcp';

export { ANCHOR_LOG_ID, ANCHOR_VERSION_FIELD, anchorSinkFilter, anchorFilterProject, matchesAnchorFilter } from './anchorFilter';
export type { LogEntryLike } from './anchorFilter';
import { ANCHOR_LOG_ID, anchorSinkFilter } from './anchorFilter';
export const OBJECT_CREATOR = 'roles/storage.objectCreator';

/** Days -> the seconds string the bucket's retentionPolicy takes. */
export function retentionSeconds(days: number): string {
  if (!Number.isInteger(days) || days < 1 || days * 86_400 >= 3_155_760_000) throw new Error(`retention ${days} days is out of range`);
  return String(days * 86_400);
}

export interface WormArchiveArgs {
  readonly project: pulumi.Input<string>;
  /** Project id as a plain string: the sink filter is rendered from it. */
  readonly projectId: string;
  readonly location: pulumi.Input<string>;
  readonly bucketName: pulumi.Input<string>;
  readonly retentionDays: number;
  /**
   * Locks the retention policy. Irreversible: a locked policy can never be shortened or
   * removed, and the bucket cannot be deleted before every object has aged out.
   */
  readonly retentionLocked: boolean;
  /** Default CMEK for the bucket (full KMS key name). Optional. */
  readonly kmsKeyName?: pulumi.Input<string>;
  /** Resources the bucket must wait for (the grant that lets the Storage agent use the CMEK key). */
  readonly kmsReady?: pulumi.Resource[];
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class WormArchive extends pulumi.ComponentResource {
  readonly bucket: gcp.storage.Bucket;
  readonly sink: gcp.logging.ProjectSink;
  readonly writerGrant: gcp.storage.BucketIAMMember;
  /** gs://bucket/prefix where the anchor objects land (the outputs' anchors.source). */
  readonly anchorsSource: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: WormArchiveArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ztmysql:wormArchive:WormArchive', name, {}, opts);

    this.bucket = new gcp.storage.Bucket(`${name}-bucket`, {
      project: args.project,
      name: args.bucketName,
      location: args.location,
      storageClass: 'STANDARD',
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      retentionPolicy: { retentionPeriod: retentionSeconds(args.retentionDays), isLocked: args.retentionLocked },
      forceDestroy: false,
      encryption: args.kmsKeyName ? { defaultKmsKeyName: args.kmsKeyName } : undefined,
      labels: args.labels,
    }, { parent: this, protect: args.retentionLocked, dependsOn: args.kmsReady ?? [] });

    this.sink = new gcp.logging.ProjectSink(`${name}-sink`, {
      project: args.project,
      name: 'ztmysql-anchors',
      description: 'ztmysql audit anchors -> retention-locked WORM bucket',
      destination: pulumi.interpolate`storage.googleapis.com/${this.bucket.name}`,
      filter: anchorSinkFilter(args.projectId),
      uniqueWriterIdentity: true,
      disabled: false,
    }, { parent: this });

    // The sink's own identity may create objects in this bucket, and nothing else.
    this.writerGrant = new gcp.storage.BucketIAMMember(`${name}-sink-writer`, {
      bucket: this.bucket.name,
      role: OBJECT_CREATOR,
      member: this.sink.writerIdentity,
    }, { parent: this });

    this.bucketName = this.bucket.name;
    this.anchorsSource = pulumi.interpolate`gs://${this.bucket.name}/${ANCHOR_LOG_ID}`;
    this.registerOutputs({ bucketName: this.bucketName, anchorsSource: this.anchorsSource });
  }
}
