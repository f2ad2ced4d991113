// Stack configurations the tests deploy: a prod one and a dev one, as raw config.
import { RawStackConfig } from '../../../components/config';

export const PRINCIPALS = [
  { name: 'owner', role: 'owner' },
  { name: 'app', role: 'app' },
  { name: 'auditor', role: 'auditor' },
];

export const PROD: RawStackConfig = {
  environment: 'prod',
  project: 'acme-ztmysql-prod',
  region: 'europe-west4',
  zone: 'europe-west4-a',
  deploymentName: 'prod',
  organization: 'Acme',
  serverName: 'db.prod.acme.internal',
  subnetCidr: '10.20.0.0/24',
  hostAddress: '10.20.0.10',
  clientRanges: ['10.30.0.0/16'],
  deployRanges: ['10.40.0.0/28'],
  principals: PRINCIPALS,
  appIdentities: ['serviceAccount:orders-api@acme-apps.iam.gserviceaccount.com'],
  deployServiceAccount: 'ztmysql-deploy@acme-ztmysql-prod.iam.gserviceaccount.com',
  deployPosixUser: 'sa_104857600123456789012',
  retentionLocked: true,
  retentionDays: 400,
};

export const DEV: RawStackConfig = {
  ...PROD,
  environment: 'dev',
  project: 'acme-ztmysql-dev',
  deploymentName: 'dev',
  serverName: 'db.dev.acme.internal',
  deployServiceAccount: 'ztmysql-deploy@acme-ztmysql-dev.iam.gserviceaccount.com',
  retentionLocked: false,
  retentionDays: 7,
  minimumRetentionDays: 1,
  machineType: 'e2-standard-2',
  confidentialCompute: false,
  unprotectKmsKeys: true,
};
