# strip-comments.awk - prints C source with comments, string literals and
# character literals blanked, one output line per input line, so that the
# meta checks (check-banned.sh, check-layering.sh) can grep for calls with
# line numbers without tripping over prose such as "never strcpy(...)".
# Preprocessor lines are kept as they are (an #include's <...> or "..."
# is what check-layering.sh reads, and it does not use this filter).
BEGIN {
	incomment = 0
}
{
	line = $0
	out = ""
	i = 1
	n = length(line)
	if (!incomment && line ~ /^[ \t]*#/) {
		print line
		next
	}
	while (i <= n) {
		c = substr(line, i, 1)
		c2 = substr(line, i, 2)
		if (incomment) {
			if (c2 == "*/") {
				incomment = 0
				out = out "  "
				i += 2
			} else {
				out = out " "
				i++
			}
			continue
		}
		if (c2 == "/*") {
			incomment = 1
			out = out "  "
			i += 2
			continue
		}
		if (c2 == "//") {
			break
		}
		if (c == "\"" || c == "'") {
			# A literal: skip to its unescaped closing quote on this line.
			q = c
			out = out q
			i++
			while (i <= n) {
				c = substr(line, i, 1)
				if (c == "\\") {
					out = out "  "
					i += 2
					continue
				}
				if (c == q) {
					break
				}
				out = out " "
				i++
			}
			out = out q
			i++
			continue
		}
		out = out c
		i++
	}
	print out
}
