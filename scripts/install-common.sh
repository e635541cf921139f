# shellcheck shell=bash
# Helpers shared by the install-*.sh scripts (sourced, not run). They define how those
# scripts touch the machine:
#  - every privileged command goes through as_root: run directly as root, otherwise
#    through sudo; without sudo the script stops with a clear message;
#  - packages come from the machine's configured apt sources (apt_get);
#  - a system service is only ever stopped when this run installed its package
#    (stop_new_service), never by process name.
# The caller defines log().

# require_root: stop now, before changing anything, when privileged commands cannot run.
require_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo >/dev/null 2>&1 && return 0
  log "error: $* needs root: run this script as root, or install sudo and run it as a user allowed to use it"
  exit 1
}

# as_root CMD...: CMD as root (directly when root, through sudo otherwise).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    require_root "'$*'"
    sudo "$@"
  fi
}

# apt_get ARGS...: apt-get as root, never prompting (sudo resets the environment, so the
# frontend is passed through env).
apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

# pkg_installed PKG: is the Debian package installed now?
pkg_installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
}

# stop_new_service NAME: stop and disable the service a package installed by this very
# run started (Debian's postinst starts it). Callers only use it for a package that was
# not installed before the run: a service the host already had is never touched.
stop_new_service() {
  local name=$1
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable --now "$name" >/dev/null 2>&1 \
      || log "warning: could not stop the $name service this run installed"
  elif [ -x "/etc/init.d/$name" ]; then
    as_root "/etc/init.d/$name" stop >/dev/null 2>&1 \
      || log "warning: could not stop the $name service this run installed"
    if command -v update-rc.d >/dev/null 2>&1; then
      as_root update-rc.d "$name" disable >/dev/null 2>&1 || true
    fi
  fi
}
