#!/usr/bin/env bash
# Private WordPress 6.1 (Debian package) + private MariaDB, on 127.0.0.1, everything in DIR, for integration tests.
#   wordpress.sh start DIR PORT   install if needed, (re)start MariaDB on PORT+1 (or $WP_DB_PORT) and
#                                 `php -S 127.0.0.1:PORT`, install WordPress once, make a fresh Application
#                                 Password for admin, print env lines and write DIR/credentials.json
#   wordpress.sh selftest DIR     REST with the Application Password: post, held comment, list, approve, read back
#   wordpress.sh stop DIR         kill the PHP server and mariadbd by their PID files in DIR; nothing else
# Copied from the team's shared recipes (../shared/recipes/wordpress.sh) so that
# a clean clone can run the WordPress tests (see tests/wordpress_site.py); since changed here:
# the start waits for a server the shell has forked but not yet run (wait_for, started).
set -euo pipefail
me=wordpress.sh
die() { echo "$me: ERROR: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $me start DIR PORT | selftest DIR | stop DIR"
cmd=$1; DIR=$(realpath -m -- "$2")
case $DIR in *[[:space:]]*) die "DIR must not contain whitespace";; esac
WP=$DIR/wordpress; DB=$DIR/mysql; SOCK=$DB/mysqld.sock
ADMIN_PW=${WP_ADMIN_PASSWORD:-admin-pass-ci}

apt_install() {  # apt-get update + install, with a temporary policy-rc.d so no system service (port 80, 143, 3306, 5432) starts
  [ "$(id -u)" = 0 ] || die "missing packages ($*) and I am not root"
  local prc=/usr/sbin/policy-rc.d made="" rc=0
  [ -e $prc ] || { printf '#!/bin/sh\nexit 101\n' >$prc; chmod +x $prc; made=1; }
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } >&2 || rc=$?
  [ -z "$made" ] || rm -f $prc
  [ $rc = 0 ] || die "apt-get install $* failed (rc=$rc)"
}
alive() { local st; st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }  # a zombie counts as gone (PID 1 may not reap)
mine() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$2"; }
kill_pidfile() {  # PIDFILE PATTERN: TERM the process group it leads (we start each with setsid), wait, then KILL
  if mine "$1" "$2"; then
    local p; p=$(cat "$1"); kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"
    for _ in $(seq 300); do alive "$p" || break; sleep 0.1; done
    ! alive "$p" || { kill -KILL -- "-$p"; echo "$me: killed $p with KILL" >&2; }
  fi
  rm -f "$1"
}
stop() { kill_pidfile "$DIR/php.pid" "$DIR/router.php"; kill_pidfile "$DIR/mariadbd.pid" "--datadir=$DB/data"; }
missing() { for p; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 0; done; return 1; }
sql() { mariadb --no-defaults --socket="$SOCK" -uroot "$@"; }
# The server just started in the background: our own child, so its PID is no one else's
# until we reap it. Not `mine`: under load the child may not have exec'd the server yet
# (its command line is still this script's, its log not yet opened), which is no failure.
started() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && alive "$p" && [ "$(cut -d' ' -f4 "/proc/$p/stat" 2>/dev/null)" = $$ ]; }
wait_for() {  # WHAT PIDFILE LOG CMD...: poll CMD for 30 s, fail loudly (and stop) if the server died
  local what=$1 pidf=$2 log=$3; shift 3
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    started "$pidf" || break
    sleep 0.1
  done
  tail -n 20 "$log" >&2 || true; stop; die "$what did not come up (log: $log)"
}

start() {
  local port=${1:-}; [[ $port =~ ^[0-9]+$ ]] || die "usage: $me start DIR PORT"
  local dbport=${WP_DB_PORT:-$((port + 1))} url="http://127.0.0.1:$port"
  local pkgs="wordpress wordpress-theme-twentytwentythree php-cli php-mysql mariadb-server curl"
  ! missing $pkgs || apt_install $pkgs
  stop
  for p in "$port" "$dbport"; do ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || die "port $p is already in use"; done
  mkdir -p "$DB/tmp"
  if [ ! -d "$DB/data/mysql" ]; then
    rm -rf "$DB/data"
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$DB/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$DB/install-db.log" 2>&1 || { tail "$DB/install-db.log" >&2; die "mariadb-install-db failed"; }
  fi
  setsid mariadbd --no-defaults --user="$(id -un)" --datadir="$DB/data" --socket="$SOCK" --port="$dbport" \
    --bind-address=127.0.0.1 --pid-file="$DB/mariadbd.pid.own" --log-error="$DB/error.log" --tmpdir="$DB/tmp" \
    --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 </dev/null >>"$DB/error.log" 2>&1 &
  echo $! >"$DIR/mariadbd.pid"
  wait_for mariadbd "$DIR/mariadbd.pid" "$DB/error.log" sql -e 'SELECT 1'
  sql <<'SQL'
CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'wp'@'127.0.0.1' IDENTIFIED BY 'wp';
GRANT ALL ON wordpress.* TO 'wp'@'127.0.0.1';
SQL
  # a private copy: Debian's own wp-config.php reads /etc/wordpress/config-HOST.php; ours replaces it
  [ -f "$WP/.copied" ] || { rm -rf "$WP"; cp -a /usr/share/wordpress "$WP"; touch "$WP/.copied"; }
  [ -s "$DIR/secret" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$DIR/secret"
  cat >"$WP/wp-config.php" <<EOF
<?php
// generated by $me
define('DB_NAME', 'wordpress'); define('DB_USER', 'wp'); define('DB_PASSWORD', 'wp');
define('DB_HOST', '127.0.0.1:$dbport'); define('DB_CHARSET', 'utf8mb4'); define('DB_COLLATE', '');
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as \$k) define(\$k, \$k . '$(cat "$DIR/secret")');
\$table_prefix = 'wp_';
define('WP_HOME', '$url'); define('WP_SITEURL', '$url');
define('WP_ENVIRONMENT_TYPE', 'local');   // lets Application Passwords work over plain http
define('DISABLE_WP_CRON', true); define('AUTOMATIC_UPDATER_DISABLED', true); define('WP_HTTP_BLOCK_EXTERNAL', true);
\$upload_path = ''; \$upload_url_path = '';   // read by Debian's patched install.php
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
EOF
  cat >"$DIR/router.php" <<'EOF'
<?php // php -S router: existing files as usual, every other path (permalinks, /wp-json/...) to WordPress
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
if ($path !== '/' && file_exists($_SERVER['DOCUMENT_ROOT'] . $path)) return false;
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
EOF
  PHP_CLI_SERVER_WORKERS=4 setsid php -S "127.0.0.1:$port" -t "$WP" "$DIR/router.php" </dev/null >>"$DIR/php.log" 2>&1 &
  echo $! >"$DIR/php.pid"
  wait_for "php -S" "$DIR/php.pid" "$DIR/php.log" curl -fsS -o /dev/null "$url/readme.html"
  # the installer's own form, step 2 (a no-op "Already Installed" page on a rerun)
  curl -fsS -o "$DIR/install.html" "$url/wp-admin/install.php?step=2" --data-urlencode "weblog_title=mailbridge CI" \
    --data-urlencode user_name=admin --data-urlencode "admin_password=$ADMIN_PW" --data-urlencode "admin_password2=$ADMIN_PW" \
    --data-urlencode admin_email=admin@example.org --data-urlencode blog_public=0 || die "install.php failed (see $DIR/php.log)"
  cat >"$DIR/wp-helper.php" <<'EOF'
<?php // php-cli: check the install, turn on /%postname%/ permalinks (so /wp-json/ routes), make a fresh Application Password
$_SERVER['HTTP_HOST'] = '127.0.0.1'; $_SERVER['REQUEST_URI'] = '/';
require __DIR__ . '/wordpress/wp-load.php';
if (!is_blog_installed()) { fwrite(STDERR, "WordPress is not installed\n"); exit(1); }
if (!wp_is_application_passwords_available()) { fwrite(STDERR, "Application Passwords are not available\n"); exit(1); }
$GLOBALS['wp_rewrite']->set_permalink_structure('/%postname%/'); flush_rewrite_rules(false);
WP_Application_Passwords::delete_all_application_passwords(1);
$r = WP_Application_Passwords::create_new_application_password(1, array('name' => 'ci'));
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message() . "\n"); exit(1); }
echo $r[0], "\n";
EOF
  local app; app=$(php "$DIR/wp-helper.php" 2>>"$DIR/php.log") && [ -n "$app" ] || { tail -n 20 "$DIR/php.log" >&2; die "wp-helper.php failed"; }
  python3 -c 'import json,sys; print(json.dumps(dict(zip(["url","user","password","app_password","db_host","db_port","db_name","db_user","db_password"],sys.argv[1:])), indent=1))' \
    "$url" admin "$ADMIN_PW" "$app" 127.0.0.1 "$dbport" wordpress wp wp >"$DIR/credentials.json"
  echo "WP_URL=$url WP_USER=admin WP_APP_PASSWORD=$app WP_ADMIN_PASSWORD=$ADMIN_PW"
}

selftest() {
  [ -s "$DIR/credentials.json" ] && mine "$DIR/php.pid" "$DIR/router.php" || die "not running in $DIR"
  python3 - "$DIR/credentials.json" <<'PY'
import base64, json, sys, urllib.request, urllib.error
c = json.load(open(sys.argv[1]))
auth = "Basic " + base64.b64encode(f"{c['user']}:{c['app_password']}".encode()).decode()
def call(method, path, body=None, authed=True):
    req = urllib.request.Request(c["url"] + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **({"Authorization": auth} if authed else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"wordpress.sh selftest: {method} {path} -> HTTP {e.code}: {e.read()[:500]!r}")
assert call("GET", "/wp-json/", authed=False)["name"] == "mailbridge CI"
assert "wp/v2" in call("GET", "/?rest_route=/", authed=False)["namespaces"]
assert call("GET", "/wp-json/wp/v2/users/me?context=edit")["username"] == c["user"]
post = call("POST", "/wp-json/wp/v2/posts", {"title": "selftest post", "content": "body", "status": "publish"})
com = call("POST", "/wp-json/wp/v2/comments", {"post": post["id"], "content": "a held comment", "status": "hold",
                                                 "author_name": "Reader", "author_email": "reader@example.org"})
assert com["status"] == "hold", com["status"]
held = call("GET", f"/wp-json/wp/v2/comments?post={post['id']}&status=hold&context=edit")
assert [x["id"] for x in held] == [com["id"]], held
assert call("GET", f"/wp-json/wp/v2/comments?post={post['id']}", authed=False) == []   # held: not public
assert call("POST", f"/wp-json/wp/v2/comments/{com['id']}", {"status": "approved"})["status"] == "approved"
assert call("GET", f"/wp-json/wp/v2/comments/{com['id']}?context=edit")["status"] == "approved"
assert [x["id"] for x in call("GET", f"/wp-json/wp/v2/comments?post={post['id']}", authed=False)] == [com["id"]]
call("DELETE", f"/wp-json/wp/v2/posts/{post['id']}?force=true")   # deletes its comments too
print(f"wordpress.sh selftest: OK (post {post['id']}, comment {com['id']}: created held, listed with status=hold, approved, read back)")
PY
}

case $cmd in
  start) start "${3:-}" ;;
  stop) stop; echo "$me: stopped (or was not running) in $DIR" >&2 ;;
  selftest) selftest ;;
  *) die "unknown command $cmd" ;;
esac
