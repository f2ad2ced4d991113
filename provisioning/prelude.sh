# ztmysql step prelude: strict mode, the payload read from stdin into a private
# tmpfs directory, and the helpers every step uses to change only what differs.
set -euo pipefail
umask 077
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
ZT_CHANGED=0
ZT_IN=$(mktemp -d /run/ztmysql-step.XXXXXXXX)
trap 'rm -rf -- "$ZT_IN"' EXIT

zt_log() { printf '  %s\n' "$*"; }
zt_changed() { ZT_CHANGED=1; printf '  ~ %s\n' "$*"; }
zt_fail() { printf '%s %s failed: %s\n' 'ztmysql-step:' "$ZT_STEP" "$*" >&2; exit 1; }

# Payload: one "key base64" line per entry.
if [ -n "$ZT_EXPECT_KEYS" ]; then
  while IFS=' ' read -r zt_key zt_b64 || [ -n "${zt_key:-}" ]; do
    [ -n "$zt_key" ] || continue
    case "$zt_key" in *[!A-Za-z0-9._-]*) zt_fail "malformed payload key";; esac
    printf '%s' "$zt_b64" | base64 -d > "$ZT_IN/$zt_key" 2>/dev/null || zt_fail "payload entry $zt_key is not base64"
    zt_key=''
  done
  for zt_key in $ZT_EXPECT_KEYS; do
    [ -f "$ZT_IN/$zt_key" ] || zt_fail "payload entry $zt_key missing from stdin"
  done
fi

# zt_place SRC DEST OWNER GROUP MODE: install a file only if content or metadata differ.
zt_place() {
  local src=$1 dest=$2 owner=$3 group=$4 mode=$5 tmp
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c '%U:%G:%a' "$dest")" = "$owner:$group:${mode#0}" ]; then
    return 0
  fi
  tmp=$(mktemp "$(dirname "$dest")/.ztmysql.XXXXXX")
  cat "$src" > "$tmp"
  chown "$owner:$group" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  zt_changed "placed $dest"
}

# zt_dir PATH OWNER GROUP MODE: create or correct a directory.
zt_dir() {
  local path=$1 owner=$2 group=$3 mode=$4
  if [ ! -d "$path" ]; then
    install -d -o "$owner" -g "$group" -m "$mode" "$path"
    zt_changed "created $path"
  elif [ "$(stat -c '%U:%G:%a' "$path")" != "$owner:$group:${mode#0}" ]; then
    chown "$owner:$group" "$path"
    chmod "$mode" "$path"
    zt_changed "corrected owner/mode of $path"
  fi
}

# zt_mode PATH OWNER GROUP MODE: correct metadata of an existing file.
zt_mode() {
  local path=$1 owner=$2 group=$3 mode=$4
  [ -e "$path" ] || return 0
  if [ "$(stat -c '%U:%G:%a' "$path")" != "$owner:$group:${mode#0}" ]; then
    chown "$owner:$group" "$path"
    chmod "$mode" "$path"
    zt_changed "corrected owner/mode of $path"
  fi
}

# Root over the local socket (auth_socket); never reads option files.
zt_sql() { mysql --no-defaults --protocol=socket --socket=/run/mysqld/mysqld.sock -uroot --batch --skip-column-names "$@"; }

zt_wait_mysql() {
  local i
  for i in $(seq 1 "${1:-120}"); do
    if zt_sql -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  zt_fail "MySQL did not answer on its socket within ${1:-120}s (see /var/log/mysql/error.log)"
}

zt_in_container() { systemd-detect-virt --container --quiet 2>/dev/null; }

zt_finish() {
  if [ "$ZT_CHANGED" = 1 ]; then echo "ztmysql-step: $ZT_STEP changed"; else echo "ztmysql-step: $ZT_STEP unchanged"; fi
}
