// The hardened server settings, once: the config renderer writes them, and the tests
// and the proof read the running server and compare against `expected`.
// Sources: ../shared/HARDENING.md (CIS Oracle MySQL 8.4, DISA STIG, dev-sec).

export const TLS_DIR = '/etc/mysql/tls';
export const TLS_FILES = {
  ca: `${TLS_DIR}/ca.pem`,
  cert: `${TLS_DIR}/server-cert.pem`,
  key: `${TLS_DIR}/server-key.pem`,
  crl: `${TLS_DIR}/crl.pem`,
} as const;
export const SECURE_FILE_PRIV = '/var/lib/mysql-files';
export const ERROR_LOG = '/var/log/mysql/error.log';
export const KEYRING_DIR = '/var/lib/mysql-keyring';
export const CONFIG_FILE = '/etc/mysql/mysql.conf.d/ztmysql-hardening.cnf';
export const TLS_CIPHERSUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
// In the order the server reports it (it canonicalises the list).
export const SQL_MODE = 'ONLY_FULL_GROUP_BY,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

export interface HardenedVariable {
  /** Name as SHOW GLOBAL VARIABLES reports it. */
  readonly variable: string;
  /** Value written to the option file. */
  readonly setting: string;
  /** Value the running server must report. */
  readonly expected: string;
  readonly source: string;
}

const v = (variable: string, setting: string, expected: string, source: string): HardenedVariable =>
  ({ variable, setting, expected, source });

/** Every [mysqld] option the plan writes, with what the running server must then say. */
export function hardenedVariables(bindAddress: string, port: number): HardenedVariable[] {
  return [
    v('bind_address', bindAddress, bindAddress, 'CIS 2.14'),
    v('port', String(port), String(port), 'deployment'),
    v('require_secure_transport', 'ON', 'ON', 'CIS 8.1, STIG'),
    v('tls_version', 'TLSv1.3', 'TLSv1.3', 'CIS 2.15, STIG, RFC 8446'),
    v('tls_ciphersuites', TLS_CIPHERSUITES, TLS_CIPHERSUITES, 'CIS 2.17'),
    v('ssl_ca', TLS_FILES.ca, TLS_FILES.ca, 'X.509 mTLS'),
    v('ssl_cert', TLS_FILES.cert, TLS_FILES.cert, 'X.509 mTLS'),
    v('ssl_key', TLS_FILES.key, TLS_FILES.key, 'X.509 mTLS'),
    v('ssl_crl', TLS_FILES.crl, TLS_FILES.crl, 'STIG'),
    v('tls_certificates_enforced_validation', 'ON', 'ON', 'manual: refuse to start on bad certificates'),
    v('local_infile', 'OFF', 'OFF', 'CIS 4.4, dev-sec'),
    v('secure_file_priv', SECURE_FILE_PRIV, `${SECURE_FILE_PRIV}/`, 'CIS 4.7'),
    v('skip_name_resolve', 'ON', 'ON', 'seed'),
    v('skip_show_database', 'ON', 'ON', 'dev-sec'),
    v('sql_mode', SQL_MODE, SQL_MODE, 'CIS 4.8'),
    v('general_log', 'OFF', 'OFF', 'STIG, CIS 3.6'),
    v('log_error', ERROR_LOG, ERROR_LOG, 'CIS 6.1'),
    v('log_error_verbosity', '2', '2', 'CIS 6.3'),
    v('log_raw', 'OFF', 'OFF', 'CIS 6.4'),
    v('automatic_sp_privileges', 'OFF', 'OFF', 'dev-sec'),
    v('default_password_lifetime', '365', '365', 'CIS 2.7'),
    v('password_history', '5', '5', 'CIS 2.8'),
    v('password_reuse_interval', '365', '365', 'CIS 2.9'),
    v('authentication_policy', 'caching_sha2_password,,', 'caching_sha2_password,,', 'CIS 7.1'),
    v('validate_password.policy', 'STRONG', 'STRONG', 'CIS 7.5, STIG'),
    v('validate_password.length', '14', '14', 'CIS 7.5, STIG'),
    v('validate_password.check_user_name', 'ON', 'ON', 'CIS 7.5'),
    v('component_connection_control.failed_connections_threshold', '3', '3', 'CIS 2.18'),
    v('component_connection_control.min_connection_delay', '1000', '1000', 'CIS 2.18'),
    v('component_connection_control.max_connection_delay', '60000', '60000', 'CIS 2.18'),
    v('binlog_encryption', 'ON', 'ON', 'CIS 2.2.1, STIG'),
    v('innodb_redo_log_encrypt', 'ON', 'ON', 'CIS 2.2.1, STIG'),
    v('innodb_undo_log_encrypt', 'ON', 'ON', 'CIS 2.2.1, STIG'),
    v('default_table_encryption', 'ON', 'ON', 'CIS 2.2.1'),
    v('table_encryption_privilege_check', 'ON', 'ON', 'CIS 2.2.1'),
    v('log_bin_trust_function_creators', 'OFF', 'OFF', 'least privilege'),
    // The audit sealer runs as a MySQL event (sql/): the scheduler must run.
    v('event_scheduler', 'ON', 'ON', 'audit sealer'),
    // SET PERSIST could otherwise override this file at the next restart.
    v('persisted_globals_load', 'OFF', 'OFF', 'configuration integrity'),
  ];
}

/** Options that must never appear in the effective [mysqld] configuration (CIS 4.3/4.5). */
export const FORBIDDEN_OPTIONS = ['allow-suspicious-udfs', 'skip-grant-tables', 'admin-address', 'log-raw=ON', 'general-log=ON', 'local-infile=ON', 'local-infile=1'];

/** Components the server must load: INSTALL COMPONENT urns, and the keyring through the manifest. */
export const COMPONENTS = ['file://component_validate_password', 'file://component_connection_control'];
export const KEYRING_COMPONENT = 'file://component_keyring_file';

export function renderMysqlOptionFile(bindAddress: string, port: number): string {
  const lines = [
    '# Managed by ztmysql provisioning; local edits are overwritten.',
    '[mysqld]',
    '# X Protocol listens on 33060 by default in 9.x: off.',
    'mysqlx = OFF',
    ...hardenedVariables(bindAddress, port).map((h) => `${h.variable} = ${h.setting}`),
    '',
  ];
  return lines.join('\n');
}
