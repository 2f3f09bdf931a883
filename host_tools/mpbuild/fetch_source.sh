#!/bin/sh
# Fetch Debian's `micropython` source package at one pinned version and unpack it.
#
#   fetch_source.sh VERSION DEST_DIR
#
# apt does the fetching, so the signed Release -> Sources -> .dsc checksum chain is verified
# with the machine's Debian archive keyring. The deb-src entries are written to a private apt
# directory (the machine's own apt configuration is left alone) and point at the same Debian
# mirror the machine already uses: no host name is written down in this repository.
set -eu

version=$1
dest=$2
suites=${MPY_SUITES:-"trixie sid"}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

work=$(dirname "$dest")/apt
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/download"

# The first Debian main archive URI configured on this machine (deb822 .sources or one-line
# sources.list); the security archive is skipped because it carries no source for this package.
mirror=$(
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && awk '$1 == "deb" || $1 == "deb-src" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' "$f"
    done
  } | grep -v -- '-security' | grep '/debian/\?$' | head -n 1
)
if [ -z "$mirror" ]; then
  echo "fetch_source: no Debian archive mirror found in /etc/apt; cannot fetch micropython $version" >&2
  exit 1
fi

: > "$work/sources.list"
for s in $suites; do
  echo "deb-src [signed-by=$keyring] $mirror $s main" >> "$work/sources.list"
done

apt_opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::State::Lists=$work/lists -o Dir::Cache::Archives=$work/archives \
  -o APT::Sandbox::User=root -o Debug::NoLocking=1"

# shellcheck disable=SC2086
apt-get $apt_opts -q update >"$work/update.log" 2>&1 || {
  echo "fetch_source: apt-get update of the private deb-src list failed:" >&2
  cat "$work/update.log" >&2
  exit 1
}

# shellcheck disable=SC2086
available=$(apt-cache $apt_opts showsrc micropython 2>/dev/null | awk '/^Version:/ {print $2}' | sort -u)
if ! printf '%s\n' "$available" | grep -qxF "$version"; then
  echo "fetch_source: micropython $version is not offered by suites '$suites' any more." >&2
  echo "Versions available now: $(printf '%s ' $available)" >&2
  echo "Pick one, update MPY_VERSION in the Makefile, and re-run." >&2
  exit 1
fi

cd "$work/download"
# shellcheck disable=SC2086
apt-get $apt_opts -q source --download-only "micropython=$version" >"$work/source.log" 2>&1 || {
  cat "$work/source.log" >&2
  exit 1
}
upstream=${version%-*}
rm -rf "$dest.tmp"
dpkg-source --no-check -x "micropython_${version}.dsc" "$dest.tmp" >"$work/unpack.log" 2>&1 || {
  cat "$work/unpack.log" >&2
  exit 1
}
# apt verified the .dsc against the signed index; dpkg-source --no-check only skips the
# maintainer's OpenPGP signature on the .dsc itself (no debian-keyring on a build machine).
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "fetch_source: micropython $version (upstream $upstream) unpacked in $dest"
