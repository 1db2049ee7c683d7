#!/usr/bin/env bash
# What `make test` needs beyond Go, in one place: Debian's chromium (the
# browser tests drive /usr/bin/chromium, or $CHROMIUM_PATH), Debian's
# firefox-esr (the real-push test drives /usr/bin/firefox-esr, or
# $FIREFOX_PATH, through puppeteer-core), a font to render text with, and
# Node.js with npm (playwright-core, puppeteer-core, axe-core).
#
# Missing pieces are installed with apt-get when this can (root, or sudo
# without a password, on a Debian-like system). When it cannot, it stops at
# once with one sentence naming what to install, instead of letting every
# browser test fail with a stack trace.
#
# Used by `make test` (target deps) and, through it, by .ci/run.
set -euo pipefail

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
firefox=${FIREFOX_PATH:-/usr/bin/firefox-esr}
font=${LIAISON_DEPS_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}

need=()
[ -x "$chromium" ] || need+=(chromium)
[ -x "$firefox" ] || need+=(firefox-esr)
[ -e "$font" ] || need+=(fonts-dejavu-core)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    sudo=(sudo -n)
  else
    sudo=(none)
  fi
fi

if [ "${sudo[0]:-}" = none ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs ${need[*]} (Debian packages; e.g. sudo apt-get install ${need[*]}) and cannot install them here (not root, or no apt-get)." >&2
  exit 1
fi

echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ ! -x "$chromium" ]; then
  echo "make test needs a Chromium at $chromium (set CHROMIUM_PATH to another one); installing the chromium package did not provide it." >&2
  exit 1
fi
if [ ! -x "$firefox" ]; then
  echo "make test needs a Firefox ESR at $firefox (set FIREFOX_PATH to another one); installing the firefox-esr package did not provide it." >&2
  exit 1
fi
