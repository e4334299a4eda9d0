#!/usr/bin/env bash
# Builds the Debian package of the commit checked out (HEAD, never the
# uncommitted changes beside it) with Debian's own tools and a layout
# written here: _build/deb/tagline_<version>_<arch>.deb. Prints the
# package's path on the last line.
#
# The binary is built from the source tree that the package ships in
# /usr/share/tagline/source (HEAD plus the vendored modules), so that the
# source shipped is exactly the corresponding source (see LICENSES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
GO=${GO:-go}

need=(dpkg-dev gzip xz-utils pkg-config libpcsclite-dev libnfc-dev)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "deb: installing ${missing[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

version=$(scripts/version.sh)
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
out=$top/_build/deb
work=$out/work
rm -rf "$work"
mkdir -p "$work/src" "$out"
echo "deb: tagline $version for $arch" >&2

# The source of HEAD, with every module it links vendored.
srcname=tagline-$version
git archive --format=tar --prefix="$srcname/" HEAD | tar -x -C "$work/src"
(cd "$work/src/$srcname" && echo "$version" > .release-version && git -C "$top" rev-parse HEAD > .release-commit && $GO mod vendor)

# The binary, with cgo (PC/SC and libnfc) and the release version, built
# by the script that the shipped source offers for relinking.
GO=$GO sh "$work/src/$srcname/scripts/relink.sh" "$work/tagline"

# Everything below comes from HEAD's tree too, never from the files beside
# this script, so that the package is that of a clean checkout.
s=$work/src/$srcname
pkg=$work/pkg
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/man/man1" "$pkg/usr/share/man/man5" \
	"$pkg/usr/share/doc/tagline" "$pkg/usr/share/tagline/source" \
	"$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
	"$pkg/usr/share/fish/vendor_completions.d" "$pkg/lib/systemd/system" \
	"$pkg/etc/tagline" "$pkg/etc/default"
install -m 0755 "$work/tagline" "$pkg/usr/bin/tagline"

# Manual pages and completions come from the binary's own command tree.
"$work/tagline" man --dir "$work/man"
for f in "$work"/man/*.1; do gzip -9n < "$f" > "$pkg/usr/share/man/man1/$(basename "$f").gz"; done
for f in "$work"/man/*.5; do gzip -9n < "$f" > "$pkg/usr/share/man/man5/$(basename "$f").gz"; done
"$work/tagline" completion bash > "$pkg/usr/share/bash-completion/completions/tagline"
"$work/tagline" completion zsh > "$pkg/usr/share/zsh/vendor-completions/_tagline"
"$work/tagline" completion fish > "$pkg/usr/share/fish/vendor_completions.d/tagline.fish"

install -m 0644 "$s/packaging/systemd/tagline-serve.service" "$s/packaging/systemd/tagline-station@.service" "$pkg/lib/systemd/system/"
install -m 0644 "$s/packaging/deb/config.toml" "$pkg/etc/tagline/config.toml"
install -m 0644 "$s/packaging/deb/tagline-station.default" "$pkg/etc/default/tagline-station"
install -m 0644 "$s/README.md" "$pkg/usr/share/doc/tagline/README.md"
gzip -9n < "$s/cmd/CONFIG.md" > "$pkg/usr/share/doc/tagline/CONFIG.md.gz"

# The complete corresponding source (LGPL-3.0 section 4(d)(0)).
(cd "$work/src" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
	-cf - "$srcname" | xz -9 -T1 > "$pkg/usr/share/tagline/source/$srcname.tar.xz")

bash "$s/scripts/deb-copyright.sh" "$s" "$work/tagline" > "$pkg/usr/share/doc/tagline/copyright"

{
	printf 'tagline (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n' "$version" "$(git rev-parse HEAD)"
	printf ' -- tagline authors <tagline@tagline.example>  %s\n' "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$pkg/usr/share/doc/tagline/changelog.gz"

# Shared libraries the binary links (libc6, libpcsclite1, libnfc6), with
# the versions dpkg-shlibdeps reads from the build machine.
mkdir -p "$work/shlib/debian"
printf 'Source: tagline\n\nPackage: tagline\nArchitecture: any\n' > "$work/shlib/debian/control"
shlibdeps=$(cd "$work/shlib" && dpkg-shlibdeps -O "$pkg/usr/bin/tagline" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
for lib in libc6 libpcsclite1 libnfc6; do
	case "$shlibdeps" in
	*"$lib "*) ;;
	*) echo "deb: the binary does not link $lib (shlibs: $shlibdeps): was it built with cgo?" >&2; exit 1 ;;
	esac
done

install -m 0755 "$s/packaging/deb/postinst" "$s/packaging/deb/postrm" "$pkg/DEBIAN/"
printf '/etc/tagline/config.toml\n/etc/default/tagline-station\n' > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@SHLIBDEPS@/$shlibdeps/" \
	"$s/packaging/deb/control.in" > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"

find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/tagline_${version}_${arch}.deb
rm -f "$out"/tagline_*.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "deb: built $deb ($(du -h "$deb" | cut -f1))" >&2
echo "$deb"
