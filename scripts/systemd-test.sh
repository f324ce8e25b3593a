#!/usr/bin/env bash
# The systemd units under a real systemd: boots a minimal Debian 12 (systemd
# 252) with systemd-nspawn, installs the release binaries and dist/systemd/ as
# the README's "Run as a service" says, and checks the user unit (user alice,
# lingering) and the system unit (a member of group clout): start reaches
# active (READY=1), `clout status`, reload applies a changed config before
# `systemctl reload` returns, stop exits 0 within 2 s, the watchdog restarts a
# daemon stopped with SIGSTOP, socket activation after a fresh boot, the
# database path, `systemd-analyze security` and `systemd-analyze verify`.
#
# Prints `ok - …` / `not ok - …` for each check and exits non-zero on any
# failure. Where it cannot run (not root, no systemd-nspawn and no apt, no
# Debian mirror, no boot) it says why and exits 0, or 1 under CI=true.
#
# The rootfs (debootstrap, ~2 min) is cached in $CLOUT_SYSTEMD_TEST_CACHE
# (default /var/cache/clout-systemd-test), keyed by its package list; each run
# boots an overlay of it, so the cache stays clean. CLOUT_SYSTEMD_TEST_BIN=DIR
# takes cloutd and clout from DIR instead of `cargo build --release`.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,man-db
KEY=$(printf '%s\n' "$SUITE" minbase "$PACKAGES" | sha256sum | cut -c1-12)
CACHE_DIR=${CLOUT_SYSTEMD_TEST_CACHE:-/var/cache/clout-systemd-test}
ROOTFS=$CACHE_DIR/$SUITE-$KEY

skip() {
  echo "systemd-test: cannot run here: $*"
  if [ "${CI:-}" = true ]; then
    echo "systemd-test: CI=true, so this is a failure"
    exit 1
  fi
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, debootstrap)"

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
}
missing=()
command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v ps >/dev/null 2>&1 || missing+=(procps)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || skip "systemd-nspawn or debootstrap is missing and apt-get install ${missing[*]} failed"
fi

# apt's configured Debian mirror (deb822 .sources or one-line sources.list).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = "" }
         /(^|\n)Suites:[^\n]*(bookworm|stable)/ && /(^|\n)Types:[^\n]*deb/ && !/security/ {
           if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit }
         }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }'
}

WORK=$(mktemp -d /var/tmp/clout-systemd-test.XXXXXX)
NSPAWN_PID=
cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  mountpoint -q "$WORK/root" && umount -l "$WORK/root"
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$ROOTFS/usr/lib/systemd/systemd" ]; then
  MIRROR=$(mirror | head -n1)
  [ -n "$MIRROR" ] || skip "no Debian mirror in apt's sources"
  echo "systemd-test: building the $SUITE rootfs in $ROOTFS (once; about 2 min)"
  mkdir -p "$CACHE_DIR"
  rm -rf "$ROOTFS.tmp"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS.tmp" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 5 "$WORK/debootstrap.log"
    rm -rf "$ROOTFS.tmp"
    skip "debootstrap from $MIRROR failed (no network to the mirror?)"
  fi
  # The machine id comes fresh at each boot (the overlay is thrown away).
  rm -f "$ROOTFS.tmp/etc/machine-id"
  mv "$ROOTFS.tmp" "$ROOTFS"
fi

# The binaries: release build, or CLOUT_SYSTEMD_TEST_BIN.
if [ -n "${CLOUT_SYSTEMD_TEST_BIN:-}" ]; then
  BIN=$(cd "$CLOUT_SYSTEMD_TEST_BIN" && pwd)
else
  echo "systemd-test: cargo build --release -p clout-daemon -p clout-cli"
  cargo build --release --quiet -p clout-daemon -p clout-cli || { echo "not ok - cargo build --release"; exit 1; }
  BIN=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release
fi
for b in cloutd clout; do
  [ -x "$BIN/$b" ] || { echo "not ok - $BIN/$b is missing"; exit 1; }
done

# The container's root: an overlay on the cached rootfs (a copy where overlayfs is missing).
mkdir -p "$WORK/upper" "$WORK/overlay-work" "$WORK/root"
if ! mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/overlay-work" "$WORK/root" 2>/dev/null; then
  cp -a "$ROOTFS/." "$WORK/root/"
fi

LEADER=
boot() {
  systemd-nspawn -D "$WORK/root" -q --register=no --keep-unit -b \
    --bind-ro="$BIN:/opt/clout/bin" --bind-ro="$REPO/dist:/opt/clout/dist" \
    </dev/null >>"$WORK/boot.log" 2>&1 &
  NSPAWN_PID=$!
  LEADER=
  local i p
  for i in $(seq 1 200); do
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    # The container's PID 1: a child of nspawn that is pid 1 in its own namespace.
    for p in $(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null); do
      if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] &&
        awk '/^NSpid:/ && NF > 2 && $NF == 1 { found = 1 } END { exit !found }' "/proc/$p/status" 2>/dev/null; then
        LEADER=$p
      fi
    done
    [ -n "$LEADER" ] && break
    sleep 0.05
  done
  [ -n "$LEADER" ] || { tail -n 20 "$WORK/boot.log"; skip "systemd-nspawn did not start the container"; }
  local state
  # systemctl needs PID 1's private socket, which comes a moment after exec.
  for i in $(seq 1 300); do
    in_ct test -S /run/systemd/private 2>/dev/null && break
    sleep 0.1
  done
  # nspawn bind-mounts a fifo (since deleted) over /proc/kmsg, which a user
  # manager cannot cover with ProtectKernelLogs= inside PrivateUsers=
  # (226/NAMESPACE, "Failed to mount … to …/proc/kmsg"); a real machine has the
  # plain proc file, so give the container that. Before any unit starts here.
  in_ct umount /proc/kmsg 2>/dev/null
  state=$(in_ct timeout 90 systemctl is-system-running --wait 2>&1)
  case "$state" in
    running | degraded) ;;
    *)
      tail -n 20 "$WORK/boot.log"
      skip "the container did not boot (systemctl is-system-running: ${state:-nothing})"
      ;;
  esac
}

poweroff() {
  # SIGTERM to nspawn asks the container's systemd to power off.
  kill -TERM "$NSPAWN_PID" 2>/dev/null
  local i
  for i in $(seq 1 300); do
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$NSPAWN_PID" 2>/dev/null
  wait "$NSPAWN_PID" 2>/dev/null
  NSPAWN_PID=
}

# A command in the container, as root, with a clean environment.
in_ct() {
  nsenter --target "$LEADER" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
    /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
# A shell script in the container, as root.
ct_sh() { in_ct /bin/sh -ec "$1"; }
# As alice, with her user manager (XDG_RUNTIME_DIR) and ~/.cargo/bin on PATH.
as_alice() {
  in_ct /usr/sbin/runuser -u alice -- /usr/bin/env -i HOME=/home/alice USER=alice LANG=C.UTF-8 \
    PATH=/home/alice/.cargo/bin:/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$ALICE_UID" \
    /bin/sh -ec "$1"
}
# As bob, a member of group clout, with the system socket.
as_bob() {
  in_ct /usr/sbin/runuser -u bob -- /usr/bin/env -i HOME=/home/bob USER=bob LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin CLOUT_SOCKET=/run/clout/cloutd.sock /bin/sh -ec "$1"
}

PASSED=0
FAILED=0
LOG=$WORK/checks.log
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /' | tail -n 15
}
# check DESCRIPTION COMMAND…: ok when COMMAND succeeds; its output is shown otherwise.
check() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
now_ms() { date +%s%3N; }

# The user unit's commands, and the system unit's.
uctl() { as_alice "systemctl --user $*"; }
sctl() { in_ct systemctl "$@"; }

# ---- boot 1: install as the README says ----------------------------------------
echo "systemd-test: booting $SUITE (systemd $(chroot "$ROOTFS" dpkg-query -W -f '${Version}' systemd 2>/dev/null))"
boot

# The user unit, as alice: README steps 1–3 (the binaries come from this build).
ct_sh 'useradd -m -s /bin/sh alice && useradd -m -s /bin/sh bob' >/dev/null
ALICE_UID=$(in_ct id -u alice)
in_ct loginctl enable-linger alice
for i in $(seq 1 100); do
  in_ct test -S "/run/user/$ALICE_UID/systemd/private" && break
  sleep 0.1
done
as_alice '
  install -Dm755 /opt/clout/bin/cloutd ~/.cargo/bin/cloutd
  install -Dm755 /opt/clout/bin/clout ~/.cargo/bin/clout
  mkdir -p ~/.local/share/man/man1
  cloutd --man > ~/.local/share/man/man1/cloutd.1
  clout man > ~/.local/share/man/man1/clout.1
  install -Dm644 /opt/clout/dist/systemd/user/cloutd.service ~/.config/systemd/user/cloutd.service
  systemctl --user daemon-reload && systemctl --user enable --now cloutd
' >"$LOG" 2>&1 || not_ok "user unit: install and enable --now" "$(cat "$LOG")"

# The system unit: the README's system steps.
ct_sh '
  install -Dm644 /opt/clout/dist/systemd/system/clout.sysusers /etc/sysusers.d/clout.conf && systemd-sysusers
  install -Dm644 /opt/clout/dist/systemd/system/clout.tmpfiles /etc/tmpfiles.d/clout.conf && systemd-tmpfiles --create clout.conf
  install -Dm755 /opt/clout/bin/cloutd /usr/local/bin/cloutd
  install -Dm755 /opt/clout/bin/clout /usr/local/bin/clout
  mkdir -p /usr/local/share/man/man1
  cloutd --man > /usr/local/share/man/man1/cloutd.1
  clout man > /usr/local/share/man/man1/clout.1
  install -Dm644 /opt/clout/dist/systemd/system/cloutd.service /etc/systemd/system/cloutd.service
  install -Dm644 /opt/clout/dist/systemd/system/cloutd.socket /etc/systemd/system/cloutd.socket
  systemctl daemon-reload && systemctl enable --now cloutd
  usermod -aG clout bob
' >"$LOG" 2>&1 || not_ok "system unit: install and enable --now" "$(cat "$LOG")"

# is_active KIND: KIND is user or system.
unit_state() {
  if [ "$1" = user ]; then
    uctl "show -p ActiveState,SubState,Result,StatusText,ExecMainStatus,MainPID,NRestarts cloutd.service"
  else
    sctl show -p ActiveState,SubState,Result,StatusText,ExecMainStatus,MainPID,NRestarts cloutd.service
  fi
}
prop() { unit_state "$1" | sed -n "s/^$2=//p"; }
ctl() { if [ "$1" = user ]; then shift; uctl "$*"; else shift; sctl "$@"; fi; }
# wait_for KIND PROP VALUE SECONDS
wait_for() {
  local i
  for i in $(seq 1 $(($4 * 10))); do
    [ "$(prop "$1" "$2")" = "$3" ] && return 0
    sleep 0.1
  done
  return 1
}
# The user's `clout`, or bob's against the system socket.
clout_as() { if [ "$1" = user ]; then shift; as_alice "clout $*"; else shift; as_bob "clout $*"; fi; }

checks() {
  local kind=$1 label config db
  if [ "$kind" = user ]; then
    label="user unit"
    config=/home/alice/.config/clout/cloutd.toml
    db=/home/alice/.local/state/clout/clout.db
  else
    label="system unit"
    config=/etc/clout/cloutd.toml
    db=/var/lib/clout/clout.db
  fi

  # Type=notify: "active (running)" only after READY=1, with its STATUS=.
  local state
  state=$(unit_state "$kind" 2>&1)
  if printf '%s\n' "$state" | grep -qx 'ActiveState=active' && printf '%s\n' "$state" | grep -qx 'StatusText=serving'; then
    ok "$label: start reaches active (READY=1, status \"serving\")"
  else
    not_ok "$label: start reaches active (READY=1)" "$state"
  fi

  local who="alice"
  [ "$kind" = system ] && who="bob (group clout)"
  check "$label: clout status works for $who" clout_as "$kind" status

  # LimitNOFILE=65536 (or as much of it as the machine allows: systemd cannot
  # go past its own hard limit), with the soft limit as high.
  local mainpid
  mainpid=$(prop "$kind" MainPID)
  check "$label: open files: soft = hard = LimitNOFILE=65536 (capped by PID 1's hard limit)" \
    ct_sh "cap=\$(awk '/^Max open files/ { print \$5 }' /proc/1/limits); [ \"\$cap\" -gt 65536 ] && cap=65536
      l=\$(grep 'Max open files' /proc/$mainpid/limits); echo \"pid $mainpid: \$l (expected \$cap)\"
      echo \"\$l\" | grep -Eq \" \$cap +\$cap \""

  # The database path, on every systemd version.
  if [ "$kind" = user ]; then
    check "$label: the database is ~/.local/state/clout/clout.db (not in ~/.config/clout)" \
      ct_sh "test -f $db && ! test -e /home/alice/.config/clout/clout.db"
  else
    check "$label: the database is /var/lib/clout/clout.db" \
      ct_sh "test -f $db && test \"\$(stat -c %U $db)\" = clout"
  fi

  # Reload: `systemctl reload` returns only once cloutd has applied the file.
  # The config file is a FIFO, so cloutd's reload blocks reading it until the
  # test writes the new settings (a sink): reload must still be running a
  # second later, return after the write, and the sink be there at once.
  local as_owner=ct_sh mode=644
  if [ "$kind" = user ]; then as_owner=as_alice mode=600; fi
  $as_owner "mkdir -p $(dirname "$config") && rm -f $config && mkfifo -m $mode $config"
  local before_pid out rc_file=$WORK/reload-$kind.rc
  before_pid=$(prop "$kind" MainPID)
  rm -f "$rc_file"
  (
    ctl "$kind" reload cloutd >"$WORK/reload-$kind.out" 2>&1
    echo $? >"$rc_file"
  ) &
  local reloader=$! waited_before=no
  sleep 1
  [ -e "$rc_file" ] || waited_before=yes
  # From the host, through the container's root, and bounded: with a reload
  # that never reads the file, nothing would ever open the FIFO's other end.
  timeout 10 sh -c 'printf "%s\n" "[[sinks]]" "kind = \"command\"" "target = \"/bin/echo\"" "args = [\"$2\"]" >"$1"' \
    _ "$WORK/root$config" "reloaded-$kind-$$"
  for i in $(seq 1 100); do
    [ -e "$rc_file" ] && break
    sleep 0.1
  done
  wait "$reloader" 2>/dev/null
  out=$(clout_as "$kind" sink list 2>&1)
  if [ "$waited_before" = yes ] && [ "$(cat "$rc_file" 2>/dev/null)" = 0 ] &&
    printf '%s' "$out" | grep -q "reloaded-$kind-$$" && [ "$(prop "$kind" MainPID)" = "$before_pid" ] &&
    [ "$(prop "$kind" ActiveState)" = active ]; then
    ok "$label: systemctl reload returns only after the changed config is applied (the new sink is listed at once)"
  else
    not_ok "$label: systemctl reload returns only after the changed config is applied" \
      "waited for cloutd: $waited_before; exit status: $(cat "$rc_file" 2>/dev/null)
$(cat "$WORK/reload-$kind.out")
$out"
  fi
  # A plain file again, with the same settings.
  $as_owner "rm -f $config && printf '[[sinks]]\nkind = \"command\"\ntarget = \"/bin/echo\"\nargs = [\"reloaded-$kind-$$\"]\n' > $config && chmod $mode $config"

  # Stop: exits 0 within 2 s.
  local t0 t1
  t0=$(now_ms)
  ctl "$kind" stop cloutd >/dev/null 2>&1
  t1=$(now_ms)
  state=$(unit_state "$kind" 2>&1)
  if [ $((t1 - t0)) -lt 2000 ] && printf '%s\n' "$state" | grep -qx 'ExecMainStatus=0' &&
    printf '%s\n' "$state" | grep -qx 'Result=success'; then
    ok "$label: stop exits 0 within 2 s ($((t1 - t0)) ms)"
  else
    not_ok "$label: stop exits 0 within 2 s ($((t1 - t0)) ms)" "$state"
  fi

  # The watchdog restarts a daemon stopped with SIGSTOP (WatchdogSec=2s in a drop-in).
  local dropin
  if [ "$kind" = user ]; then
    dropin=/home/alice/.config/systemd/user/cloutd.service.d
    as_alice "mkdir -p $dropin && printf '[Service]\nWatchdogSec=2s\nRestartSec=500ms\n' > $dropin/test-watchdog.conf && systemctl --user daemon-reload"
  else
    dropin=/etc/systemd/system/cloutd.service.d
    ct_sh "mkdir -p $dropin && printf '[Service]\nWatchdogSec=2s\nRestartSec=500ms\n' > $dropin/test-watchdog.conf && systemctl daemon-reload"
  fi
  ctl "$kind" start cloutd >/dev/null 2>&1
  local pid restarts
  pid=$(prop "$kind" MainPID)
  restarts=$(prop "$kind" NRestarts)
  ct_sh "kill -STOP $pid"
  local restarted=
  for i in $(seq 1 150); do
    local np
    np=$(prop "$kind" MainPID)
    if [ "$np" != 0 ] && [ "$np" != "$pid" ] && [ "$(prop "$kind" ActiveState)" = active ]; then
      restarted=$np
      break
    fi
    sleep 0.1
  done
  if [ -n "$restarted" ] && [ "$(prop "$kind" NRestarts)" -gt "$restarts" ]; then
    ok "$label: the watchdog restarts a daemon stopped with SIGSTOP (pid $pid -> $restarted)"
  else
    not_ok "$label: the watchdog restarts a daemon stopped with SIGSTOP" "$(unit_state "$kind" 2>&1)"
  fi
  ct_sh "rm -rf $dropin"
  if [ "$kind" = user ]; then uctl daemon-reload; else sctl daemon-reload; fi

  # systemd-analyze security: exposure under 4.5 (user) or 2.0 (system).
  local limit=2.0 exposure
  if [ "$kind" = user ]; then
    limit=4.5
    out=$(as_alice 'systemd-analyze --user security --no-pager cloutd.service' 2>&1)
  else
    out=$(in_ct systemd-analyze security --no-pager cloutd.service 2>&1)
  fi
  exposure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for cloutd.service: \([0-9.]*\).*/\1/p')
  if [ -n "$exposure" ] && awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e < l) }'; then
    ok "$label: systemd-analyze security exposure $exposure < $limit"
  else
    not_ok "$label: systemd-analyze security exposure ${exposure:-?} < $limit" "$out"
  fi

  # systemd-analyze verify, with the man pages installed as the README says.
  if [ "$kind" = user ]; then
    out=$(as_alice 'systemd-analyze --user verify ~/.config/systemd/user/cloutd.service' 2>&1)
  else
    out=$(in_ct systemd-analyze verify /etc/systemd/system/cloutd.service /etc/systemd/system/cloutd.socket 2>&1)
  fi
  if [ $? -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'cloutd'; then
    ok "$label: systemd-analyze verify passes (Documentation=man:cloutd(1) found)"
  else
    not_ok "$label: systemd-analyze verify" "$out"
  fi
}

checks user
checks system

# The journal: a message of several lines (a config that does not parse) is one
# entry, at its priority, and the running config is kept.
ct_sh "printf 'log = \"info\"\n[[sinks]\nkind =\n' > /etc/clout/cloutd.toml"
sctl reload cloutd >/dev/null 2>&1
out=$(in_ct journalctl -u cloutd.service -o json --no-pager 2>&1 | grep 'keeping the current one')
if [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] && printf '%s' "$out" | grep -q '"PRIORITY":"3"' &&
  printf '%s' "$out" | grep -q '\\n'; then
  ok "journal: a multi-line error is one entry at priority 3 (err)"
else
  not_ok "journal: a multi-line error is one entry at priority 3 (err)" "$out"
fi
ct_sh 'rm -f /etc/clout/cloutd.toml'

# ---- socket activation after a fresh boot ---------------------------------------
# The README's order: stop the service, then enable the socket (systemd refuses
# to start a socket whose service is active).
as_alice '
  install -Dm644 /opt/clout/dist/systemd/user/cloutd.socket ~/.config/systemd/user/cloutd.socket
  systemctl --user stop cloutd.service && systemctl --user disable cloutd.service
  systemctl --user daemon-reload && systemctl --user enable --now cloutd.socket
' >"$LOG" 2>&1 || not_ok "user unit: enable the socket" "$(cat "$LOG")"
ct_sh '
  systemctl stop cloutd.service && systemctl disable cloutd.service
  systemctl enable --now cloutd.socket
' >"$LOG" 2>&1 || not_ok "system unit: enable the socket" "$(cat "$LOG")"

echo "systemd-test: rebooting the container"
poweroff
boot
for i in $(seq 1 100); do
  in_ct test -S "/run/user/$ALICE_UID/systemd/private" && break
  sleep 0.1
done

for kind in user system; do
  label="$kind unit"
  sock_state=$(ctl "$kind" is-active cloutd.socket 2>&1)
  svc_state=$(ctl "$kind" is-active cloutd.service 2>&1)
  if [ "$kind" = system ]; then
    dir=$(in_ct stat -c '%U:%G %a' /run/clout 2>&1)
    if [ "$dir" = "clout:clout 750" ]; then
      ok "system unit: after a fresh boot /run/clout is clout:clout 0750 (clout.tmpfiles)"
    else
      not_ok "system unit: after a fresh boot /run/clout is clout:clout 0750" "$dir"
    fi
  fi
  who=alice
  [ "$kind" = system ] && who="bob (group clout)"
  if [ "$sock_state" = active ] && [ "$svc_state" = inactive ] && out=$(clout_as "$kind" status 2>&1) &&
    [ "$(prop "$kind" ActiveState)" = active ]; then
    ok "$label: after a fresh boot, $who's first connection starts cloutd through cloutd.socket"
  else
    not_ok "$label: socket activation after a fresh boot (socket $sock_state, service $svc_state before)" \
      "${out:-}$(unit_state "$kind" 2>&1)"
  fi
done

check "user unit: systemd-analyze verify passes on cloutd.socket" \
  as_alice 'out=$(systemd-analyze --user verify ~/.config/systemd/user/cloutd.socket 2>&1); echo "$out"; ! echo "$out" | grep -q cloutd'

poweroff
echo "systemd-test: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
