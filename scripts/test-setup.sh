#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the HTML report test (skipped where apt is absent).
set -u
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
      >/tmp/calbench-apt.log 2>&1 || echo "test-setup: chromium install failed (see /tmp/calbench-apt.log)"
  else
    echo "test-setup: chromium not installed and apt-get unavailable; the browser test will be skipped"
  fi
fi
exit 0
