// Certificate subjects, shared by every issuer (the lab's openssl PKI and the Pulumi
// Pki component) and by the MySQL accounts, which must REQUIRE exactly these strings.

export interface DistinguishedName {
  readonly organization: string;
  readonly commonName: string;
}

export function caName(organization: string, deploymentName: string): DistinguishedName {
  return { organization, commonName: `${deploymentName} ztmysql CA` };
}

export function principalName(organization: string, principal: string): DistinguishedName {
  return { organization, commonName: principal };
}

export function serverCertName(organization: string, serverName: string): DistinguishedName {
  return { organization, commonName: serverName };
}

/** The one-line form MySQL compares in REQUIRE SUBJECT/ISSUER (O before CN, as issued). */
export function mysqlDn(dn: DistinguishedName): string {
  return `/O=${dn.organization}/CN=${dn.commonName}`;
}

/** The form openssl -subj takes; same order. */
export function opensslSubj(dn: DistinguishedName): string {
  return mysqlDn(dn);
}

/** Node's X509Certificate.subject form ("O=...\nCN=..."), used to check certificates before use. */
export function nodeDn(dn: DistinguishedName): string {
  return `O=${dn.organization}\nCN=${dn.commonName}`;
}
