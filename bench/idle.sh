# shellcheck shell=bash
# idle.sh: how the benchmark scripts keep other work on a shared machine out of their
# numbers. Sourced (not run) by bench/run_*.sh; each waits at most IDLE_WAIT seconds.

# How many cores sat idle over one second, from /proc/stat (idle + iowait over all).
idle_cores() {
    local a b
    a=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    echo "$a $b" | awk -v n="$(nproc)" '{printf "%.2f", n * ($3 - $1) / ($4 - $2)}'
}

# Waits until nearly all cores are idle; sets IDLE to what it saw last, and warns when it
# measures anyway.
wait_for_idle() {
    local waited=0 want
    want=$(awk -v c="$(nproc)" 'BEGIN { print c - 0.1 }')
    IDLE=$(idle_cores)
    while awk -v i="$IDLE" -v w="$want" 'BEGIN { exit !(i < w) }' && [ "$waited" -lt "$IDLE_WAIT" ]; do
        sleep 4
        waited=$((waited + 5))
        IDLE=$(idle_cores)
    done
    if awk -v i="$IDLE" -v w="$want" 'BEGIN { exit !(i < w) }'; then
        echo "warning: only $IDLE cores idle after ${IDLE_WAIT} s; measuring anyway (see the idle column)" >&2
    fi
}

# Waits while a `tessera train` (or tessera-*, a build of it) runs: a training job holds
# both cores for minutes, where wait_for_idle would give up. After one wait has run out,
# later calls do not wait again.
TRAINING_WAIT_GAVE_UP=0
wait_while_training() {
    local waited=0
    [ "$TRAINING_WAIT_GAVE_UP" = 1 ] && return 0
    while pgrep -f -- '(^|/)tessera[^/ ]* train' >/dev/null; do
        if [ "$waited" -ge "$IDLE_WAIT" ]; then
            echo "warning: a 'tessera train' is running; measuring anyway (the idle-cores column shows it)" >&2
            TRAINING_WAIT_GAVE_UP=1
            break
        fi
        sleep 5
        waited=$((waited + 5))
    done
}
