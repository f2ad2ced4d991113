// Tables, the audit machinery (event, sequence and checkpoint tables, generated
// triggers, append-only guards) and the sealer. Each function returns the SQL
// statements of one ordered file; statements end with the "$$" delimiter.
import { CHECKPOINT_MAGIC, CHECKPOINT_FORMAT_VERSION, EVENT_FORMAT_VERSION, EVENT_MAGIC } from '../audit/format';
import { ColumnSpec, TABLE_SPECS, TableSpec } from './tableSpecs';
import {
  compactBytesArgs, compactDatetimeArgs, compactTextArgs, compactUuidArgs, datetimeFieldSql, DEFINER, hexLit, ident, imageSql, lit,
  pkColumns, textFieldSql,
} from './sqlExpr';

export const AUDIT_TABLES = ['audit_events', 'audit_seq', 'audit_checkpoints'] as const;
/** Work queue of events not yet sealed; not part of the evidence (rows are deleted when sealed). */
export const PENDING_TABLE = 'audit_pending';
/** Per-boot cache of the server incarnation (MEMORY: emptied by every server start). */
export const BOOT_TABLE = 'zt_boot';
/** The incarnation as an expression: the per-boot cache, computed only when it is empty. */
export const INCARNATION_SQL = `COALESCE((SELECT zb.incarnation FROM ${BOOT_TABLE} zb WHERE zb.id = 1), zt_incarnation_now())`;
export const SEALER_LOCK = 'ztmysql.audit_sealer';
/** Most events one seal takes; a backlog drains over consecutive runs. */
export const SEAL_BATCH = 50000;

function columnDdl(c: ColumnSpec): string {
  return `  ${ident(c.name)} ${c.sqlType}${c.extra?.startsWith('GENERATED') ? ` ${c.extra}` : ''} ${c.nullable ? 'NULL' : 'NOT NULL'}${c.extra && !c.extra.startsWith('GENERATED') ? ` ${c.extra}` : ''}`;
}

export function createTableSql(t: TableSpec): string {
  const body = [
    ...t.columns.map(columnDdl),
    `  PRIMARY KEY (${t.primaryKey.map(ident).join(', ')})`,
    ...t.constraints.map((c) => `  ${c}`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${ident(t.name)} (\n${body.join(',\n')}\n) ENGINE=InnoDB COMMENT=${lit(t.comment)}`;
}

export function tablesSql(): string[] {
  return TABLE_SPECS.map(createTableSql);
}

export function auditTablesSql(): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS audit_events (
  event_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  format_version TINYINT UNSIGNED NOT NULL DEFAULT 0,
  table_name VARCHAR(64) NOT NULL,
  action VARCHAR(16) NOT NULL,
  pk_image VARBINARY(2048) NOT NULL,
  tenant_id BINARY(16) NULL,
  actor VARCHAR(300) NOT NULL DEFAULT '',
  event_time DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  incarnation VARCHAR(80) NOT NULL DEFAULT '',
  before_image MEDIUMBLOB NULL,
  after_image MEDIUMBLOB NULL,
  detail VARCHAR(1024) NULL,
  leaf_hash BINARY(32) NOT NULL DEFAULT '',
  PRIMARY KEY (event_id),
  CONSTRAINT ck_events_action CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'READ'))
) ENGINE=InnoDB COMMENT='audit events; append-only; leaf_hash per docs/audit-log-format.md'`,
    `CREATE TABLE IF NOT EXISTS audit_seq (
  seq BIGINT UNSIGNED NOT NULL,
  event_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY uq_seq_event (event_id)
) ENGINE=InnoDB COMMENT='leaf order assigned by the sealer: seq 1..n is leaf 0..n-1; append-only'`,
    `CREATE TABLE IF NOT EXISTS audit_checkpoints (
  tree_size BIGINT UNSIGNED NOT NULL,
  root BINARY(32) NOT NULL,
  prev_checkpoint_hash BINARY(32) NOT NULL DEFAULT '',
  checkpoint_hash BINARY(32) NOT NULL DEFAULT '',
  sealed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  incarnation VARCHAR(80) NOT NULL DEFAULT '',
  frontier VARBINARY(2048) NOT NULL,
  PRIMARY KEY (tree_size),
  UNIQUE KEY uq_cp_prev (prev_checkpoint_hash),
  UNIQUE KEY uq_cp_hash (checkpoint_hash)
) ENGINE=InnoDB COMMENT='RFC 6962 checkpoints, hash-chained; append-only'`,
    `CREATE TABLE IF NOT EXISTS ${PENDING_TABLE} (
  event_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (event_id)
) ENGINE=InnoDB COMMENT='events committed but not yet sealed (work queue)'`,
    `CREATE TABLE IF NOT EXISTS zt_secrets (
  name VARCHAR(64) NOT NULL,
  secret VARBINARY(64) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (name)
) ENGINE=InnoDB COMMENT='keys only definer code reads (tenant context MAC key)'`,
    `INSERT IGNORE INTO zt_secrets (name, secret) VALUES ('tenant_ctx', RANDOM_BYTES(32))`,
    // Not evidence and not secret (server_uuid and boot second); a MEMORY table never
    // reaches disk, and the engine cannot encrypt, hence ENCRYPTION='N'.
    `CREATE TABLE IF NOT EXISTS ${BOOT_TABLE} (
  id TINYINT UNSIGNED NOT NULL,
  incarnation VARCHAR(80) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=MEMORY ENCRYPTION='N' COMMENT='server incarnation of this boot; emptied by every server start'`,
  ];
}

/** Functions the audit triggers need. */
export function auditFunctionsSql(): string[] {
  return [
    // The server incarnation: server_uuid plus the boot time in epoch seconds.
    // UNIX_TIMESTAMP() and Uptime both derive from the statement's start second,
    // so the difference is exactly the server's start second for the whole boot.
    // Reading performance_schema.session_status materialises every status variable
    // under a server-wide mutex (milliseconds under 32 writers), so the value is
    // computed once per boot and cached in the MEMORY table zt_boot, which the
    // server empties at every start: a cached value can never outlive its boot.
    `CREATE DEFINER=${DEFINER} FUNCTION zt_incarnation_now() RETURNS VARCHAR(80) CHARSET utf8mb4
  NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
  COMMENT 'server_uuid:boot_epoch_seconds, computed (uncached)'
RETURN CONCAT(@@server_uuid, ':', CAST(UNIX_TIMESTAMP() - (SELECT CAST(VARIABLE_VALUE AS UNSIGNED)
  FROM performance_schema.session_status WHERE VARIABLE_NAME = 'Uptime') AS UNSIGNED))`,
    `CREATE DEFINER=${DEFINER} FUNCTION zt_incarnation() RETURNS VARCHAR(80) CHARSET utf8mb4
  NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
  COMMENT 'server_uuid:boot_epoch_seconds (cached per boot in zt_boot)'
RETURN ${INCARNATION_SQL}`,
  ];
}

/** Fills the per-boot incarnation cache if the server has (re)started since it was filled. */
export const fillBootCacheSql = (): string =>
  `INSERT IGNORE INTO ${BOOT_TABLE} (id, incarnation) SELECT 1, zt_incarnation_now() FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${BOOT_TABLE} WHERE id = 1)`;

// Nullability as audit_events declares it: a NULL in a NOT NULL column fails the insert whatever the hash.
const leafSql = (r: string): string => `CONCAT(${hexLit(EVENT_MAGIC)}, ${hexLit(Buffer.from([EVENT_FORMAT_VERSION]))},
      ${compactTextArgs(`${r}.table_name`, false)},
      ${compactTextArgs(`${r}.action`, false)},
      ${compactBytesArgs(`${r}.pk_image`, false)},
      ${compactUuidArgs(`${r}.tenant_id`, true)},
      ${compactTextArgs(`${r}.actor`, false)},
      ${compactDatetimeArgs(`${r}.event_time`, false)},
      ${compactTextArgs(`${r}.incarnation`, false)},
      ${compactBytesArgs(`${r}.before_image`, true)},
      ${compactBytesArgs(`${r}.after_image`, true)},
      ${compactTextArgs(`${r}.detail`, true)})`;

/** SQL computing checkpoint_hash over NEW.* of audit_checkpoints. */
const checkpointHashSql = (r: string): string => `UNHEX(SHA2(CONCAT(${hexLit(CHECKPOINT_MAGIC)}, ${hexLit(Buffer.from([CHECKPOINT_FORMAT_VERSION]))},
      UNHEX(LPAD(HEX(${r}.tree_size), 16, '0')), ${r}.root, ${r}.prev_checkpoint_hash,
      ${datetimeFieldSql(`${r}.sealed_at`)}, ${textFieldSql(`${r}.incarnation`)}), 256))`;

const appendOnly = (table: string): string[] => (['UPDATE', 'DELETE'] as const).map((op) =>
  `CREATE DEFINER=${DEFINER} TRIGGER zt_ao_${table}_${op === 'UPDATE' ? 'bu' : 'bd'} BEFORE ${op} ON ${table} FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_APPEND_ONLY: ${table} is append-only; ${op} is refused'`);

export function protectedTriggerNames(t: TableSpec): string[] {
  return [`zt_audit_${t.name}_ai`, `zt_audit_${t.name}_au`, `zt_audit_${t.name}_ad`];
}

/** The three AFTER triggers of a protected table, generated from its spec. */
export function protectedTriggersSql(t: TableSpec): string[] {
  const pk = pkColumns(t);
  const ten = (r: string): string => (t.tenantColumn ? `${r}.${ident(t.tenantColumn)}` : 'NULL');
  const ev = (action: string, row: 'NEW' | 'OLD', before: string, after: string): string =>
    `INSERT INTO audit_events (table_name, action, pk_image, tenant_id, before_image, after_image)
  VALUES (${lit(t.name)}, ${lit(action)},
    ${imageSql(pk, row)},
    ${ten(row)},
    ${before},
    ${after})`;
  const [ai, au, ad] = protectedTriggerNames(t);
  return [
    `CREATE DEFINER=${DEFINER} TRIGGER ${ai} AFTER INSERT ON ${ident(t.name)} FOR EACH ROW
  ${ev('INSERT', 'NEW', 'NULL', imageSql(t.columns, 'NEW'))}`,
    `CREATE DEFINER=${DEFINER} TRIGGER ${au} AFTER UPDATE ON ${ident(t.name)} FOR EACH ROW
  ${ev('UPDATE', 'NEW', imageSql(t.columns, 'OLD'), imageSql(t.columns, 'NEW'))}`,
    `CREATE DEFINER=${DEFINER} TRIGGER ${ad} AFTER DELETE ON ${ident(t.name)} FOR EACH ROW
  ${ev('DELETE', 'OLD', imageSql(t.columns, 'OLD'), 'NULL')}`,
  ];
}

export function auditTriggersSql(): string[] {
  return [
    // The only place leaf hashes are computed; actor, time and incarnation are
    // forced here, whoever inserts (a trigger, a read procedure, or the owner).
    `CREATE DEFINER=${DEFINER} TRIGGER zt_audit_events_bi BEFORE INSERT ON audit_events FOR EACH ROW
BEGIN
  SET NEW.format_version = ${EVENT_FORMAT_VERSION}, NEW.actor = USER(), NEW.event_time = NOW(6), NEW.incarnation = ${INCARNATION_SQL};
  SET NEW.leaf_hash = UNHEX(SHA2(CONCAT(X'00', ${leafSql('NEW')}), 256));
END`,
    `CREATE DEFINER=${DEFINER} TRIGGER zt_audit_events_ai AFTER INSERT ON audit_events FOR EACH ROW
  INSERT INTO ${PENDING_TABLE} (event_id) VALUES (NEW.event_id)`,
    // Checkpoints chain to the latest one; hash, time and incarnation are computed here.
    // Only a checkpoint that grows the tree from the head is accepted: an older size
    // would re-use the head as predecessor and block the sealer (UNIQUE prev) forever.
    // The root must be the fold of the frontier, whose length must match the size.
    `CREATE DEFINER=${DEFINER} TRIGGER zt_audit_checkpoints_bi BEFORE INSERT ON audit_checkpoints FOR EACH ROW
BEGIN
  DECLARE v_head BIGINT UNSIGNED;
  DECLARE v_root BINARY(32);
  DECLARE v_j INT;
  SELECT MAX(c.tree_size) INTO v_head FROM audit_checkpoints c;
  IF v_head IS NOT NULL AND NEW.tree_size <= v_head THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_CHECKPOINT_ORDER: a checkpoint must grow the tree beyond the newest checkpoint';
  END IF;
  IF LENGTH(NEW.frontier) <> 32 * BIT_COUNT(NEW.tree_size) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_CHECKPOINT_FRONTIER: frontier length does not match the tree size';
  END IF;
  IF NEW.tree_size = 0 THEN
    SET v_root = UNHEX(SHA2('', 256));
  ELSE
    SET v_root = SUBSTRING(NEW.frontier, LENGTH(NEW.frontier) - 31, 32), v_j = LENGTH(NEW.frontier) - 63;
    WHILE v_j >= 1 DO
      SET v_root = UNHEX(SHA2(CONCAT(X'01', SUBSTRING(NEW.frontier, v_j, 32), v_root), 256));
      SET v_j = v_j - 32;
    END WHILE;
  END IF;
  IF NEW.root <> v_root THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_CHECKPOINT_ROOT: root is not the fold of the frontier';
  END IF;
  SET NEW.prev_checkpoint_hash = COALESCE((SELECT c.checkpoint_hash FROM audit_checkpoints c WHERE c.tree_size = v_head), ${hexLit(Buffer.alloc(32))});
  SET NEW.sealed_at = NOW(6), NEW.incarnation = zt_incarnation();
  SET NEW.checkpoint_hash = ${checkpointHashSql('NEW')};
END`,
    ...AUDIT_TABLES.flatMap(appendOnly),
    ...TABLE_SPECS.flatMap(protectedTriggersSql),
  ];
}

export function sealerSql(): string[] {
  const emptyRoot = 'UNHEX(SHA2(\'\', 256))';
  return [
    // Genesis: the empty tree, chained to 32 zero bytes.
    `INSERT INTO audit_checkpoints (tree_size, root, frontier) SELECT 0, ${emptyRoot}, '' FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints)`,
    `CREATE DEFINER=${DEFINER} PROCEDURE audit_seal()
  MODIFIES SQL DATA SQL SECURITY DEFINER
  COMMENT 'assigns seq to committed events and appends an RFC 6962 checkpoint'
seal: BEGIN
  DECLARE v_n BIGINT UNSIGNED;
  DECLARE v_k BIGINT UNSIGNED;
  DECLARE v_i BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_m BIGINT UNSIGNED;
  DECLARE v_j INT;
  DECLARE v_fr VARBINARY(2048);
  DECLARE v_leaf BINARY(32);
  DECLARE v_carry BINARY(32);
  DECLARE v_root BINARY(32);
  DECLARE v_done INT DEFAULT 0;
  DECLARE cur CURSOR FOR SELECT e.leaf_hash FROM audit_seq s JOIN audit_events e ON e.event_id = s.event_id
    WHERE s.seq > v_n ORDER BY s.seq;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = 1;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; DO RELEASE_LOCK(${lit(SEALER_LOCK)}); RESIGNAL; END;
  IF COALESCE(GET_LOCK(${lit(SEALER_LOCK)}, 0), 0) <> 1 THEN LEAVE seal; END IF;
  ${fillBootCacheSql()};
  SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT tree_size, frontier INTO v_n, v_fr FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1 FOR UPDATE;
  INSERT INTO audit_seq (seq, event_id)
    SELECT v_n + ROW_NUMBER() OVER (ORDER BY p.event_id), p.event_id
    FROM (SELECT event_id FROM ${PENDING_TABLE} ORDER BY event_id LIMIT ${SEAL_BATCH}) p;
  SET v_k = ROW_COUNT();
  IF v_k = 0 THEN
    COMMIT;
    DO RELEASE_LOCK(${lit(SEALER_LOCK)});
    LEAVE seal;
  END IF;
  OPEN cur;
  leaves: LOOP
    FETCH cur INTO v_leaf;
    IF v_done = 1 THEN LEAVE leaves; END IF;
    SET v_carry = v_leaf, v_m = v_n + v_i;
    WHILE v_m & 1 = 1 DO
      SET v_carry = UNHEX(SHA2(CONCAT(X'01', SUBSTRING(v_fr, LENGTH(v_fr) - 31, 32), v_carry), 256));
      SET v_fr = LEFT(v_fr, LENGTH(v_fr) - 32);
      SET v_m = v_m >> 1;
    END WHILE;
    SET v_fr = CONCAT(v_fr, v_carry), v_i = v_i + 1;
  END LOOP;
  CLOSE cur;
  IF v_i <> v_k THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ZT_SEALER: sequenced and hashed leaf counts differ';
  END IF;
  SET v_root = SUBSTRING(v_fr, LENGTH(v_fr) - 31, 32), v_j = LENGTH(v_fr) - 63;
  WHILE v_j >= 1 DO
    SET v_root = UNHEX(SHA2(CONCAT(X'01', SUBSTRING(v_fr, v_j, 32), v_root), 256));
    SET v_j = v_j - 32;
  END WHILE;
  DELETE p FROM ${PENDING_TABLE} p JOIN audit_seq s ON s.event_id = p.event_id WHERE s.seq > v_n;
  INSERT INTO audit_checkpoints (tree_size, root, frontier) VALUES (v_n + v_k, v_root, v_fr);
  COMMIT;
  DO RELEASE_LOCK(${lit(SEALER_LOCK)});
END`,
    `CREATE DEFINER=${DEFINER} EVENT audit_sealer ON SCHEDULE EVERY 1 SECOND ON COMPLETION PRESERVE ENABLE
  COMMENT 'seals committed audit events into RFC 6962 checkpoints'
  DO CALL audit_seal()`,
  ];
}

