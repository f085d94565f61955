#!/bin/sh
# Runs `pieces info` on every malicious torrent in tests/hostile-torrents/ and checks
# that each is refused cleanly: exit status 1..123 (not 0, not a timeout or
# a signal), exactly one line on stderr, and that line holds the substring
# listed for the file in tests/hostile-torrents/EXPECTED. A sanitizer report or a
# crash shows up as extra stderr lines or a status >= 125.
#
# Environment (set by `make check`): PIECES, the binary; top_srcdir.

top_srcdir=${top_srcdir:-.}
PIECES=${PIECES:-./pieces}
dir=$top_srcdir/tests/hostile-torrents
expected=$dir/EXPECTED
LC_ALL=C
export LC_ALL

if [ ! -x "$PIECES" ]; then
	echo "hostile.sh: $PIECES is not an executable (set PIECES)" >&2
	exit 99
fi
if [ ! -r "$expected" ]; then
	echo "hostile.sh: cannot read $expected" >&2
	exit 99
fi

errfile=$(mktemp "${TMPDIR:-/tmp}/hostile.XXXXXX") || exit 99
trap 'rm -f "$errfile"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
for f in "$dir"/*.torrent; do
	[ -e "$f" ] || continue
	name=${f##*/}
	want=$(awk -v f="$name" \
		'substr($0, 1, length(f) + 1) == f " " { print substr($0, length(f) + 2); exit }' \
		"$expected")

	timeout 10 "$PIECES" info "$f" >/dev/null 2>"$errfile"
	status=$?
	lines=$(awk 'END { print NR }' "$errfile")

	why=
	if [ -z "$want" ]; then
		why="no entry in EXPECTED"
	elif [ "$status" -eq 0 ]; then
		why="accepted (exit status 0)"
	elif [ "$status" -eq 124 ]; then
		why="timed out"
	elif [ "$status" -ge 125 ]; then
		why="crashed (exit status $status)"
	elif [ "$lines" -ne 1 ]; then
		why="stderr has $lines lines, want 1"
	elif ! grep -F -q -e "$want" "$errfile"; then
		why="stderr lacks \"$want\""
	fi

	if [ -z "$why" ]; then
		pass=$((pass + 1))
		echo "PASS: $name"
	else
		fail=$((fail + 1))
		echo "FAIL: $name: $why"
		# Show what was said, made safe for the terminal, at most 5 lines.
		head -n 5 "$errfile" | tr -c '[:print:]\n' '?' | sed 's/^/    /'
	fi
done

echo "$pass passed, $fail failed"
if [ $((pass + fail)) -eq 0 ]; then
	echo "hostile.sh: no torrents found in $dir" >&2
	exit 1
fi
[ "$fail" -eq 0 ]
