# An expect-like harness in busybox sh, sourced by the scenarios inside the emulated host.
# One VM at a time: vm_start runs the VMM (through /e2e/vmm) with stdin on a FIFO and stdout in a
# file; send types into the guest console; expect reads the guest's output onwards from where the
# last match ended until a glob pattern matches, with a deadline. Every check prints one PASS/FAIL
# line, also kept in $results for the x86 side.
#
# The wait loop forks nothing: under TCG a fork+exec costs ~16 ms, and a loop of greps and sleeps
# eats a whole emulated CPU that the guest's vCPUs need. Lines are read with the read builtin from
# an fd kept open on the output file, and naps are read -t timeouts on a FIFO nobody writes.

. /e2e/conf
logs=/work/logs
results=$logs/results
mkdir -p $logs
: >"$results"
rm -f /tmp/.nap
mkfifo /tmp/.nap
exec 5<>/tmp/.nap

# now: uptime in centiseconds ("0.08" must not be read as octal)
now_cs() {
	read -r u _ </proc/uptime
	now=$((${u%.*} * 100 + 1${u#*.} - 100))
}
secs() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }
since() {
	now_cs
	secs $((now - $1))
}

# notes go to stderr, the console too, so that functions can return values on stdout
note() { echo "e2e: $*" >&2; }
record() { echo "$*" >>"$results"; }
pass() { note "PASS $*"; record "PASS $*"; }
fail() { note "FAIL $*"; record "FAIL $*"; }
# check NAME WANT GOT: PASS when GOT matches the extended regex WANT
check() {
	if echo "$3" | grep -qE -- "$2"; then pass "$1: $3"; else fail "$1: got '$3', want /$2/"; fi
}

vm_name=
vm_pid=
vm_out=
vm_t0=0
buf=
match=

# vm_start NAME ignition-args...: the VMM runs in the background, its stdin a FIFO held open on
# fd 3 (so it never sees EOF), its stdout a file that fd 4 reads.
vm_start() {
	vm_name=$1
	shift
	vm_out=/tmp/$vm_name.console
	buf=
	rm -f /tmp/$vm_name.in
	mkfifo /tmp/$vm_name.in
	: >"$vm_out"
	note "$vm_name: $E2E_VMM $*"
	now_cs
	vm_t0=$now
	/e2e/vmm "$@" </tmp/$vm_name.in >"$vm_out" 2>/tmp/$vm_name.stderr &
	vm_pid=$!
	exec 3>/tmp/$vm_name.in 4<"$vm_out"
}

# A VMM that died leaves its stdin FIFO without a reader: typing into it must fail (EPIPE), not
# kill the scenario by SIGPIPE before vm_stop records the VMM's exit status, console and stderr.
trap '' PIPE

# send TEXT: type TEXT and a carriage return (what Enter sends) into the guest console
send() { printf '%s\r' "$1" >&3; }

# vm_tail: the last console and stderr lines of the VM, for a FAIL line that CI's short excerpt
# of the output can still explain
vm_tail() {
	printf "; console ends '%s'; stderr ends '%s'" \
		"$(tail -n 2 "$vm_out" | tr -d '\r' | tr '\n' ' ' | cut -c1-160)" \
		"$(tail -n 1 /tmp/$vm_name.stderr | cut -c1-160)"
}

# expect WHAT GLOB TIMEOUT_S: consume output up to the first line (or trailing partial line, for
# prompts) matching GLOB; the match is left in $match.
expect() {
	now_cs
	t0=$now
	end=$((now + $3 * 100))
	while :; do
		while IFS= read -r line <&4; do
			match=$buf$line
			buf=
			case $match in $2) note "$vm_name: $1 after $(since $t0) s" && return 0 ;; esac
		done
		# read failed at EOF: $line holds the bytes of an unfinished line, if any
		buf=$buf$line
		case $buf in $2)
			match=$buf
			buf=
			note "$vm_name: $1 after $(since $t0) s"
			return 0
			;;
		esac
		if ! kill -0 $vm_pid 2>/dev/null; then
			fail "$vm_name: $1: the VMM exited while waiting for '$2'$(vm_tail)"
			return 1
		fi
		now_cs
		if [ $now -ge $end ]; then
			fail "$vm_name: $1: timeout after $3 s waiting for '$2'$(vm_tail)"
			return 1
		fi
		read -t 0.05 _ <&5
	done
}

# run TAG COMMAND [TIMEOUT_S]: run COMMAND in the guest shell; $result is "RC OUTPUT" (output
# on one line), empty if it did not finish. The result is framed as [TAG=rc ...=TAG]; the typed
# line shows [TAG""= so its echo cannot match.
run() {
	result=
	# The indentation of a command written over several lines must not reach the guest's
	# interactive shell as tabs: each one is a completion that lists every command.
	case $2 in *"	"*) set -- "$1" "$(printf '%s' "$2" | tr '\t' ' ')" "${3:-60}" ;; esac
	send "{ $2; } >/tmp/.e2e 2>&1; echo \"[$1\"\"=\$? \$(tr '\n' ' ' </tmp/.e2e)=$1\"\"]\""
	expect "$1" "*\[$1=*=$1\]*" "${3:-60}" || return 1
	result=${match#*\[$1=}
	result=${result%%=$1\]*}
	while [ "${result% }" != "$result" ]; do result=${result% }; done
}

# login: wait for the login prompt (reporting the time since the VMM started) and log in as root
login() {
	expect "login prompt" '*login: ' "${1:-150}" || return 1
	pass "$vm_name: login: prompt $(since $vm_t0) s after the VMM started"
	send root
	expect "shell prompt" '*ignition:/*# *' 60
}

# vm_stop TIMEOUT_S: wait for the VMM to exit on its own; $vm_rc is its exit status, or KILLED
vm_stop() {
	now_cs
	t0=$now
	end=$((now + $1 * 100))
	while kill -0 $vm_pid 2>/dev/null && [ $now -lt $end ]; do
		read -t 0.05 _ <&5
		now_cs
	done
	if kill -0 $vm_pid 2>/dev/null; then
		kill -9 $vm_pid
		wait $vm_pid
		vm_rc=KILLED
	else
		wait $vm_pid
		vm_rc=$?
	fi
	exec 3>&- 4<&-
	note "$vm_name: VMM exit $vm_rc $(since $t0) s after the request, up $(since $vm_t0) s"
	# a boot that runs again (E2E_BOOTS="nettap nettap") keeps each run's logs: name, name.2, ...
	k=1 sfx=
	while [ -e "$logs/$vm_name$sfx.console" ]; do k=$((k + 1)) sfx=.$k; done
	cp "$vm_out" "$logs/$vm_name$sfx.console"
	cp /tmp/$vm_name.stderr "$logs/$vm_name$sfx.stderr"
}
