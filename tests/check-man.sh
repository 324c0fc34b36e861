#!/bin/sh
# check-man.sh - the built man pages lint clean.
#
# Every doc/*.scd and client/*.scd (or *.scd.in, a template the build
# fills in before scdoc) must have its page built (in the build
# tree, or in the source tree when it came in the tarball), and each page
# must pass `mandoc -T lint -W warning`: warnings and errors fail, STYLE
# notes do not. scdoc puts a .P after every .SH and between paragraphs, and
# mandoc reports each as "skipping paragraph macro: PP after SH" / "PP
# empty"; those come from scdoc itself, change nothing in the output, and
# are filtered out. mandoc does not check a man(7) page's sections, so this
# script also requires NAME and DESCRIPTION sections, a NAME line starting
# with the page's name, and a .TH whose title and section match the file
# name (cwtimed.conf.5 -> .TH "cwtimed.conf" "5").
#
#   check-man.sh PAGE...   lint the pages; exit 1 listing the problems
#   check-man.sh           TAP: lint every built page, then prove the lint
#                          fails on pages with deliberate faults
set -u

# Prints the problems of page $1; returns 1 when there is one.
lint() {
    page=$1
    file=${page##*/}
    title=${file%.*}
    section=${file##*.}
    out=$(mandoc -T lint -W warning "$page" 2>&1 |
        grep -v 'skipping paragraph macro: PP \(after SH\|empty\)')
    th=$(sed -n 's/^\.TH[[:space:]]*//p' "$page" | head -n 1 | tr -d '"')
    case $th in
    "$title $section"*) ;;
    *) out="$out${out:+
}$file: .TH is '$th', expected '$title $section ...'" ;;
    esac
    for sh in NAME DESCRIPTION; do
        grep -q "^\\.SH \"\\{0,1\\}$sh\"\\{0,1\\}\$" "$page" ||
            out="$out${out:+
}$file: no $sh section"
    done
    # The first text line after .SH NAME (skipping macros) names the page.
    name=$(sed -n '/^\.SH "\{0,1\}NAME/,/^\.SH/{/^\./d;p;}' "$page" | head -n 1 | sed 's/\\&//g')
    case $name in
    "$title "* | "$title,"*) ;;
    *) out="$out${out:+
}$file: NAME line '$name' does not start with '$title'" ;;
    esac
    [ -z "$out" ] && return 0
    printf '%s\n' "$out"
    return 1
}

if [ $# -gt 0 ]; then
    st=0
    for p in "$@"; do
        lint "$p" || st=1
    done
    exit $st
fi

: "${top_srcdir:?set by make check}" "${top_builddir:?set by make check}"
if ! command -v mandoc >/dev/null 2>&1; then
    echo "1..0 # SKIP mandoc is not installed"
    echo "skip-probe: command -v mandoc: not found (Debian: apt-get install mandoc)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"

scds=$(find "$top_srcdir/doc" "$top_srcdir/client" \( -name '*.scd' -o -name '*.scd.in' \) \
    2>/dev/null | sort)
count=$(printf '%s\n' "$scds" | grep -c .)
echo "1..$((count + 4))"
if [ "$count" -ge 3 ]; then
    ok "found $count scdoc sources"
else
    not_ok "found only $count scdoc sources: $scds"
fi
for scd in $scds; do
    pn=${scd##*/}
    pn=${pn%.in}
    pn=${pn%.scd}
    page=""
    for d in "$top_builddir/doc" "$top_builddir/client" "$top_srcdir/doc" "$top_srcdir/client"; do
        if [ -f "$d/$pn" ]; then
            page="$d/$pn"
            break
        fi
    done
    if [ -z "$page" ]; then
        not_ok "$pn: not built (from $scd)"
    elif out=$(lint "$page"); then
        ok "$pn lints clean"
    else
        not_ok "$pn:"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
done

# Test-the-test: an unknown macro, an undefined string, a missing section
# and a wrong title must each be refused; a clean page must pass.
printf '%s\n' '.TH "foo" "1" "2026-01-01"' '.SH NAME' 'foo \- a' \
    '.SH DESCRIPTION' '.P' 'Text.' >"$tmp/foo.1"
mkdir -p "$tmp/bad" "$tmp/nodesc" "$tmp/title"
sed 's/^Text\.$/.Xx bogus\n\\*(zz/' "$tmp/foo.1" >"$tmp/bad/foo.1"
sed '/DESCRIPTION/d' "$tmp/foo.1" >"$tmp/nodesc/foo.1"
sed 's/^\.TH "foo" "1"/.TH "bar" "5"/' "$tmp/foo.1" >"$tmp/title/foo.1"
if lint "$tmp/foo.1" >/dev/null; then
    ok "test-the-test: a clean page passes"
else
    not_ok "test-the-test: a clean page is refused: $(lint "$tmp/foo.1")"
fi
bad=""
lint "$tmp/bad/foo.1" | grep -q 'unknown macro' || bad="$bad unknown-macro"
lint "$tmp/bad/foo.1" | grep -q 'undefined string' || bad="$bad undefined-string"
lint "$tmp/nodesc/foo.1" | grep -q 'no DESCRIPTION' || bad="$bad missing-section"
if [ -z "$bad" ]; then
    ok "test-the-test: an unknown macro, an undefined string and a missing DESCRIPTION are refused"
else
    not_ok "test-the-test: not detected:$bad"
fi
if lint "$tmp/title/foo.1" | grep -q 'TH is'; then
    ok "test-the-test: a .TH that does not match the file name is refused"
else
    not_ok "test-the-test: a wrong .TH title passes"
fi
exit $fail
