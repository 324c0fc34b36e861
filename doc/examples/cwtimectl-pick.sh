#!/bin/sh
# cwtimectl-pick.sh - choose a recent target with rofi (or dmenu) and
# switch to it: the focused timer pauses, the chosen one starts or
# resumes. Typing a new ticket number or project:ID works too.
# Install: install -m 755 cwtimectl-pick.sh ~/.local/bin/
set -u

# cwtimectl recent prints "TARGET  SUMMARY", one target a line.
if command -v rofi >/dev/null 2>&1; then
    menu() { rofi -dmenu -i -p 'cwtimed'; }
else
    menu() { dmenu -i -p 'cwtimed'; }
fi
choice=$(cwtimectl recent --limit 20 | grep -v '^no recent targets$' | menu) || exit 0
target=${choice%% *}
[ -n "$target" ] || exit 0
cwtimectl switch "$target"
