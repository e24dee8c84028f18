#!/usr/bin/env bash
# Makes sure the tools `make demo` and `make test` need are on this machine,
# installing what is missing under .cache/ and saying what it installs:
#
#   terraform     Terraform $TERRAFORM_VERSION through hashicorp/hc-install
#                 $HC_INSTALL_VERSION (which checks the release's SHA256SUMS and
#                 their signature) into .cache/bin
#   moto_server   moto[server]==$MOTO_VERSION into a virtual environment,
#                 .cache/moto
#   terraformrc   .cache/terraformrc: the aws provider from a filesystem mirror
#                 when this machine has one (offline), else from its registry
#
# A tool already on PATH is used as it is. The Makefile puts .cache/bin and
# .cache/moto/bin on PATH after the system's directories.
#
# Usage: scripts/tools.sh [terraform] [moto] [terraformrc]   (default: all three)
# Env:   CONVEYOR_CACHE (default <repo>/.cache), CONVEYOR_TF_MIRROR (see
#        scripts/terraformrc.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CONVEYOR_CACHE:-$repo/.cache}

# The versions CI runs. ci.yml installs the same ones (actions/packaging_test.go
# compares them).
TERRAFORM_VERSION=1.11.4
HC_INSTALL_VERSION=v0.10.0
MOTO_VERSION=5.2.1

say() { printf 'tools: %s\n' "$*" >&2; }
fail() {
  printf 'tools: %s\n' "$*" >&2
  exit 1
}

ensure_terraform() {
  if command -v terraform >/dev/null; then
    return
  fi
  if [[ -x "$cache/bin/terraform" ]]; then
    say "terraform: using $cache/bin/terraform (installed earlier)"
    return
  fi
  command -v go >/dev/null || fail "terraform is not on PATH and go (needed to run hc-install) is not either: install Go 1.26"
  say "terraform not on PATH: installing Terraform $TERRAFORM_VERSION into $cache/bin with hashicorp/hc-install $HC_INSTALL_VERSION (checksum- and signature-verified)"
  mkdir -p "$cache/bin"
  if ! go run "github.com/hashicorp/hc-install/cmd/hc-install@$HC_INSTALL_VERSION" \
    install -version "$TERRAFORM_VERSION" -path "$cache/bin" terraform; then
    fail "installing Terraform $TERRAFORM_VERSION with hc-install failed (is the HashiCorp release site reachable?); install Terraform $TERRAFORM_VERSION yourself and put it on PATH"
  fi
  "$cache/bin/terraform" version >&2 || fail "$cache/bin/terraform does not run"
}

ensure_moto() {
  if command -v moto_server >/dev/null; then
    return
  fi
  if [[ -x "$cache/moto/bin/moto_server" ]]; then
    say "moto_server: using $cache/moto/bin/moto_server (installed earlier)"
    return
  fi
  command -v python3 >/dev/null || fail "moto_server is not on PATH and python3 (needed to install moto) is not either: apt-get install python3 python3-venv"
  say "moto_server not on PATH: installing moto[server]==$MOTO_VERSION into the virtual environment $cache/moto"
  mkdir -p "$cache"
  python3 -m venv "$cache/moto" || fail "python3 -m venv $cache/moto failed: apt-get install python3-venv"
  # A short timeout and no retries: an unreachable index says so at once.
  if ! "$cache/moto/bin/pip" install --quiet --disable-pip-version-check --timeout 15 --retries 1 "moto[server]==$MOTO_VERSION"; then
    rm -rf "$cache/moto" # no half-installed environment to be taken for a good one next time
    fail "installing moto[server]==$MOTO_VERSION with pip failed (is the Python package index reachable?); install it yourself so that moto_server is on PATH"
  fi
}

ensure_terraformrc() {
  mkdir -p "$cache"
  "$repo/scripts/terraformrc.sh" >"$cache/terraformrc.tmp"
  mv "$cache/terraformrc.tmp" "$cache/terraformrc"
}

what=("$@")
((${#what[@]})) || what=(terraform moto terraformrc)
export PATH="$PATH:$cache/bin:$cache/moto/bin"
for w in "${what[@]}"; do
  case "$w" in
    terraform) ensure_terraform ;;
    moto) ensure_moto ;;
    terraformrc) ensure_terraformrc ;;
    *) fail "unknown tool '$w' (terraform, moto or terraformrc)" ;;
  esac
done
