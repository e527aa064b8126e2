#!/bin/sh
# Installs Debian's headless-capable Chromium for the status-page browser test; idempotent.
# Called once per test session (tests/browser/test_status_page_browser.py); safe to run by hand.
# Prints the path of the browser on success; exits non-zero when none can be installed.
set -eu

find_browser() {
    for name in chromium chromium-browser; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if find_browser; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
else
    SUDO=""
fi

# A lock so that two sessions installing at once do not trip over dpkg's own lock.
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >&2
find_browser
