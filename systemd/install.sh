#!/usr/bin/env bash
# Install (or remove with --remove) the kiosk systemd unit for the checkout at $1.
# Run as root: `sudo make install-service` from a checkout under /opt (ProtectHome=yes hides /home).
set -euo pipefail

unit_src="$(cd "$(dirname "$0")" && pwd)/kiosk.service"
unit_dst=/etc/systemd/system/kiosk.service

if [ "$(id -u)" -ne 0 ]; then
  echo "install-service: run as root (sudo make install-service)" >&2
  exit 1
fi

if [ "${1:-}" = "--remove" ]; then
  systemctl disable --now kiosk.service 2>/dev/null || true
  rm -f "$unit_dst" /usr/local/bin/kiosk
  systemctl daemon-reload
  echo "kiosk.service removed (state in /var/lib/kiosk and /etc/kiosk kept)"
  exit 0
fi

checkout="${1:?usage: install.sh CHECKOUT_DIR | --remove}"
case "$checkout" in
  /home/*|/root/*|/run/user/*)
    echo "install-service: $checkout is under a home directory, which the unit hides (ProtectHome=yes);" \
         "clone the project to /opt/kiosk and run make install there" >&2
    exit 1;;
esac
[ -x "$checkout/.venv/bin/kiosk" ] || { echo "install-service: run 'make install' in $checkout first" >&2; exit 1; }

for group in video i2c gpio dialout; do getent group "$group" >/dev/null || groupadd --system "$group"; done
if ! id kiosk >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/kiosk --shell /usr/sbin/nologin --groups video,i2c,gpio,dialout kiosk
fi

install -d -m 0755 /etc/kiosk /usr/local/share/doc/kiosk
install -d -m 0700 -o kiosk -g kiosk /var/lib/kiosk
[ -f /etc/kiosk/kiosk.toml ] || install -m 0644 "$checkout/etc/kiosk.toml" /etc/kiosk/kiosk.toml
install -m 0644 "$checkout/README.md" /usr/local/share/doc/kiosk/README.md
ln -sfn "$checkout/.venv/bin/kiosk" /usr/local/bin/kiosk

# Models and keys belong to the service user; keys are readable by it alone.
runuser -u kiosk -- /usr/local/bin/kiosk models install --dir /var/lib/kiosk/models
runuser -u kiosk -- /usr/local/bin/kiosk keys init --dir /var/lib/kiosk/keys

install -m 0644 "$unit_src" "$unit_dst"
systemctl daemon-reload
systemctl enable kiosk.service
echo "kiosk.service installed and enabled; edit /etc/kiosk/kiosk.toml, then: systemctl start kiosk"
