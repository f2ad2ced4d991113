// Places the CA, server certificate and key, and CRL where mysqld reads them; when
// they change on a running server, ALTER INSTANCE RELOAD TLS swaps them in without a
// restart (certificate rotation, a new CRL).
import { caName, nodeDn, serverCertName } from '../pkiNames';
import { ValidSettings } from '../settings';
import { Step, StepBuilder } from '../step';
import { TLS_DIR, TLS_FILES } from '../mysqlHardening';

export const PKI_INPUTS = {
  caCert: 'pki.caCert',
  serverCert: 'pki.serverCert',
  serverKey: 'pki.serverKey',
  crl: 'pki.crl',
} as const;

export function pkiStep(s: ValidSettings): Step {
  const b = new StepBuilder('pki', 'install CA, server certificate and key, CRL');
  const ca = b.input({ name: PKI_INPUTS.caCert, kind: 'certificate', secret: false, expectSubject: nodeDn(caName(s.organization, s.deploymentName)) });
  const cert = b.input({ name: PKI_INPUTS.serverCert, kind: 'certificate', secret: false, expectSubject: nodeDn(serverCertName(s.organization, s.serverName)) });
  const key = b.input({ name: PKI_INPUTS.serverKey, kind: 'privateKey', secret: true, matchesCertificate: PKI_INPUTS.serverCert });
  const crl = b.input({ name: PKI_INPUTS.crl, kind: 'crl', secret: false });
  b.add(
    `getent group mysql >/dev/null || zt_fail "group mysql does not exist (is mysql-server installed?)"`,
    `openssl verify -CAfile ${ca} ${cert} >/dev/null 2>&1 || zt_fail "server certificate does not verify against the CA"`,
    `openssl verify -crl_check -CAfile ${ca} -CRLfile ${crl} ${cert} >/dev/null 2>&1 || zt_fail "CRL does not verify against the CA, or revokes the server certificate"`,
    `zt_dir ${TLS_DIR} root mysql 0750`,
    `zt_place ${ca} ${TLS_FILES.ca} root mysql 0644`,
    `zt_place ${cert} ${TLS_FILES.cert} root mysql 0644`,
    `zt_place ${key} ${TLS_FILES.key} mysql mysql 0600`,
    `zt_place ${crl} ${TLS_FILES.crl} root mysql 0644`,
    `if [ "$ZT_CHANGED" = 1 ] && zt_sql -e 'SELECT 1' >/dev/null 2>&1 && [ "$(zt_sql -e 'SELECT @@ssl_ca')" = ${TLS_FILES.ca} ]; then`,
    `  zt_sql -e 'ALTER INSTANCE RELOAD TLS' || zt_fail "ALTER INSTANCE RELOAD TLS failed"`,
    `  zt_log "TLS material reloaded without restart"`,
    `fi`,
  );
  return b.build();
}
