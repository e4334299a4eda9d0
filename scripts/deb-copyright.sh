#!/usr/bin/env bash
# Prints /usr/share/doc/tagline/copyright (Debian's machine-readable
# format) for the tagline binary built from the source tree $1: tagline's
# own licence, then every module linked into the binary (from the
# binary's build information, so that the list cannot drift from what is
# shipped) with its licence text, then Go's standard library.
set -euo pipefail
src=$1
bin=${2:-$src/../../tagline}
GO=${GO:-go}

# indent turns a licence text into a copyright-file field body.
indent() { sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /'; }

# spdx names a licence from its text.
spdx() {
	local f=$1
	if grep -q "GNU LESSER GENERAL PUBLIC LICENSE" "$f" && grep -q "Version 3" "$f"; then echo LGPL-3.0-only
	elif grep -q "Apache License" "$f" && grep -q "Permission is hereby granted, free of charge" "$f"; then echo "Apache-2.0 and Expat"
	elif grep -q "Apache License" "$f" && grep -q "Version 2.0" "$f"; then echo Apache-2.0
	elif grep -q "Permission is hereby granted, free of charge" "$f"; then echo Expat
	elif grep -q "Redistribution and use in source and binary forms" "$f"; then
		if grep -qi "Neither the name" "$f"; then echo BSD-3-Clause; else echo BSD-2-Clause; fi
	else
		echo "copyright: cannot name the licence in $f" >&2
		return 1
	fi
}

license_file() {
	local dir=$1 f
	for f in LICENSE LICENSE.txt LICENSE.md COPYING LICENCE; do
		[ -f "$dir/$f" ] && { echo "$dir/$f"; return 0; }
	done
	echo "copyright: no licence file in $dir" >&2
	return 1
}

cat <<HEAD
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tagline
Source: https://github.com/tagline-station/tagline
Comment: The complete corresponding source of this binary, tagline and every
 Go module linked into it (vendor/), is shipped in
 /usr/share/tagline/source/. github.com/clausecker/nfc/v2 is covered by the
 GNU LGPL version 3 and is linked statically into /usr/bin/tagline: to use
 a modified version of it, unpack that source, change vendor/github.com/
 clausecker/nfc/v2 (or point go.mod at your copy with a replace directive)
 and rebuild with "scripts/relink.sh /tmp/tagline" (offline; LICENSES.md in
 the source); the resulting binary replaces /usr/bin/tagline. Nothing in this
 package restricts that modification or reverse engineering to debug it.

Files: *
Copyright: the tagline authors
License: Apache-2.0

HEAD

declare -A texts
while read -r kind path ver _; do
	[ "$kind" = dep ] || continue
	dir=$(cd "$src" && $GO mod download -json "$path@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	lf=$(license_file "$dir")
	id=$(spdx "$lf")
	printf 'Files: vendor/%s/*\nComment: Go module %s %s, linked into /usr/bin/tagline.\n' "$path" "$path" "$ver"
	printf 'Copyright: see the licence text below\nLicense: %s\n' "$id"
	# Permissive licences ask that their notice travel with the binary:
	# each module's own text, with its copyright line, is reproduced.
	indent < "$lf"
	# Apache-2.0 section 4(d): a NOTICE file travels with the binary.
	if [ -f "$dir/NOTICE" ]; then
		printf ' .
 NOTICE of %s:
 .
' "$path"
		indent < "$dir/NOTICE"
	fi
	echo
	texts[$id]=1
done < <($GO version -m "$bin" | sed 's/^[[:space:]]*//')

printf 'License: BSD-3-Clause\n'
indent < "$($GO env GOROOT)/LICENSE"
printf 'Comment: the licence of the Go standard library and runtime (Copyright The\n Go Authors), linked into /usr/bin/tagline.\n'
echo

printf 'License: Apache-2.0\n'
indent < /usr/share/common-licenses/Apache-2.0
if [ -n "${texts[LGPL-3.0-only]:-}" ]; then
	# LGPL-3.0 section 4(b): a copy of the GNU GPL and of the LGPL itself.
	echo
	printf 'License: LGPL-3.0-only\n The LGPL text is the one reproduced with github.com/clausecker/nfc/v2\n above (also /usr/share/common-licenses/LGPL-3). It is a set of\n additional permissions on top of the GNU GPL version 3, reproduced here:\n .\n'
	indent < /usr/share/common-licenses/GPL-3
fi
