// The ztmysql stack for Google Cloud. Configuration lives in Pulumi.<stack>.yaml under
// the `ztmysql` namespace (see components/config.ts and docs/deploying.md); it is
// validated in full before any resource is registered.
import * as pulumi from '@pulumi/pulumi';
import { readRawConfig } from './components/config';
import { deployStack } from './components/stack';

const config = new pulumi.Config('ztmysql');
const outputs = deployStack(readRawConfig((key) => config.get(key)));

export const host = outputs.host;
export const port = outputs.port;
export const database = outputs.database;
export const serverName = outputs.serverName;
export const caCertPem = outputs.caCertPem;
export const crlPem = outputs.crlPem;
export const principals = outputs.principals;
export const kms = outputs.kms;
export const anchors = outputs.anchors;
export const ssh = outputs.ssh;
export const sshPrivateKey = outputs.sshPrivateKey;
export const provisioned = outputs.provisioned;
