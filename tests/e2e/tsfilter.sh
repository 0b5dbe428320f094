#!/bin/bash
# Prefixes each line of stdin with the seconds elapsed since $T0 (an EPOCHREALTIME; default now).
T0=${T0:-$EPOCHREALTIME}
t0=${T0/./}
while IFS= read -r line; do
	now=${EPOCHREALTIME/./}
	d=$((now - t0))
	printf '[%4d.%03d] %s\n' $((d / 1000000)) $((d / 1000 % 1000)) "${line%$'\r'}"
done
