#!/usr/bin/env bash
# Installs the machine packages the tests use, if missing: redis-server (the Redis stand-in),
# prometheus (its promtool checks the alert rules), golang-go (Debian's Go toolchain, which
# builds and tests the Go SDK in sdk/go), golang-golang-x-mod-dev (golang.org/x/mod's note and
# tlog packages, which check our C2SP checkpoints and tiles), chromium (the Backstage plugin's
# browser tests; Debian's build, never a downloaded one) and npm (installs the Terraform
# providers' published schemas, @cdktf/provider-google, for tests/unit/test_terraform_schema.py),
# rsyslog and rsyslog-gnutls (a real syslog receiver, plain TCP and RFC 5425 TLS, that
# tests/integration/test_stream_destinations.py starts as a private instance for the syslog
# stream destination).
# The gcloud emulators (Pub/Sub, Firestore) come with the gcloud SDK in this machine image and
# cannot be installed from the package registries; tests that need them skip where they are
# absent, except under CI=true.
set -u
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks monitoring/
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ] || missing+=(golang-golang-x-mod-dev)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)  # the provider schemas for terraform/
command -v rsyslogd >/dev/null 2>&1 || missing+=(rsyslog)  # the syslog stream destination's receiver
compgen -G "/usr/lib/*/rsyslog/lmnsd_gtls.so" >/dev/null || missing+=(rsyslog-gnutls)  # its TLS driver
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: please install ${missing[*]} with your package manager" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: not root and no sudo; please install ${missing[*]}" >&2
    exit 0
  fi
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
  || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; } \
  || echo "system-deps: could not install ${missing[*]}" >&2
exit 0
