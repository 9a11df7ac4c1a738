#!/bin/bash
# Measurement script: direct MariaDB vs fwd epoll vs fwd uring (vs fwd uring
# without setup flags, vs HAProxy), sysbench oltp_point_select.
# Usage: ./run.sh [ROUNDS] [TIME]      (results appended to results.csv)
# Needs: a MariaDB node on 127.0.0.1:18000 (as
# `tests/galera.py start --base-port 18000` runs it) with sysbench's tables in
# sluice_test (4 x 10,000 rows), gcc, liburing-dev, sysbench, haproxy, perf.
# Works in a scratch directory ($WORK, default /tmp/uring-exp): builds fwd
# there, writes results.csv, haproxy.cfg and logs/ there.
# Every process this script starts is stopped by its PID.
set -u
SRC=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/uring-exp}
mkdir -p "$WORK" && cd "$WORK" || exit 2
gcc -O2 -Wall -o fwd "$SRC/fwd.c" -luring || exit 2
ROUNDS=${1:-2}
TIME=${2:-10}
OUT=${OUT:-results.csv}
LOGDIR=logs; mkdir -p $LOGDIR

P_EPOLL=18901; P_URING=18902; P_HAPROXY=18903; P_URING0=18904; P_URINGWS=18905
declare -A PORT=( [direct]=18000 [epoll]=$P_EPOLL [uring]=$P_URING [haproxy]=$P_HAPROXY [uring-noflags]=$P_URING0 [uring-waitsends]=$P_URINGWS )
declare -A PID=()

. "$SRC/lib.sh"
write_haproxy_cfg haproxy.cfg $P_HAPROXY

start_all() {
    ./fwd epoll $P_EPOLL 2>$LOGDIR/fwd-epoll.log & PID[epoll]=$!
    ./fwd uring $P_URING 2>$LOGDIR/fwd-uring.log & PID[uring]=$!
    FWD_URING_FLAGS=0 ./fwd uring $P_URING0 2>$LOGDIR/fwd-uring0.log & PID[uring-noflags]=$!
    FWD_WAITSENDS=1 ./fwd uring $P_URINGWS 2>$LOGDIR/fwd-uringws.log & PID[uring-waitsends]=$!
    /usr/sbin/haproxy -db -f haproxy.cfg >$LOGDIR/haproxy.log 2>&1 & PID[haproxy]=$!
    sleep 1
    for t in epoll uring uring-noflags uring-waitsends haproxy; do
        kill -0 ${PID[$t]} || { echo "$t failed to start"; exit 1; }
    done
}
stop_all() {
    for t in epoll uring uring-noflags uring-waitsends haproxy; do
        [ -n "${PID[$t]:-}" ] && kill -TERM ${PID[$t]} 2>/dev/null
    done
    for t in epoll uring uring-noflags uring-waitsends haproxy; do
        [ -n "${PID[$t]:-}" ] && wait ${PID[$t]} 2>/dev/null
    done
}
trap stop_all EXIT

cpu_ticks() {  # utime+stime of the whole process (all threads)
    cut -d')' -f2 /proc/$1/stat | awk '{print $12+$13}'
}

sb() {  # port threads rate
    local extra=""
    [ "$3" != 0 ] && extra="--rate=$3"
    sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$1 \
        --mysql-user=sluice_test --mysql-password=sluice_test --mysql-db=sluice_test \
        --tables=4 --table-size=10000 --rand-type=uniform --threads=$2 --time=$TIME $extra run
}

one_run() {  # target scenario threads rate round
    local tgt=$1 scen=$2 thr=$3 rate=$4 rnd=$5
    local port=${PORT[$tgt]} pid=${PID[$tgt]:-}
    local log=$LOGDIR/sb-$tgt-$scen-r$rnd.txt pf=$LOGDIR/perf-$tgt-$scen-r$rnd.txt
    local c0=0 c1=0 perfpid=""
    if [ -n "$pid" ]; then
        c0=$(cpu_ticks $pid)
        perf stat -e raw_syscalls:sys_enter -x, -o $pf -p $pid & perfpid=$!
        sleep 0.3
    fi
    sb $port $thr $rate > $log 2>&1
    if [ -n "$pid" ]; then
        kill -INT $perfpid; wait $perfpid 2>/dev/null
        c1=$(cpu_ticks $pid)
    fi
    local q t avg sc
    q=$(awk '/queries:/{print $2; exit}' $log)
    t=$(awk '/total time:/{gsub("s","",$3); print $3; exit}' $log)
    avg=$(awk '/avg:/{print $2; exit}' $log)
    if [ -n "$pid" ]; then
        sc=$(awk -F, '/raw_syscalls/{print $1}' $pf)
    else
        sc=""
    fi
    awk -v tg=$tgt -v sc=$scen -v r=$rnd -v q=$q -v t=$t -v a=$avg -v c0=$c0 -v c1=$c1 -v s="$sc" 'BEGIN{
        qps=q/t;
        cpu = (s=="" ? "" : sprintf("%.2f", (c1-c0)*10000.0/q));
        spq = (s=="" ? "" : sprintf("%.3f", s/q));
        printf "%s,%s,%d,%d,%.2f,%.1f,%s,%d,%s,%s,%s\n", tg, sc, r, q, t, qps, a, c1-c0, cpu, s, spq }' | tee -a $OUT
}

[ -f $OUT ] || echo "target,scenario,round,queries,time_s,qps,avg_ms,cpu_ticks,cpu_us_per_q,syscalls,syscalls_per_q" > $OUT
start_all
TARGETS="direct epoll uring haproxy uring-noflags uring-waitsends"
for rnd in $(seq 1 $ROUNDS); do
    for scen in T1 T8 R3000; do
        case $scen in
            T1) thr=1; rate=0;;
            T8) thr=8; rate=0;;
            R3000) thr=8; rate=3000;;
        esac
        # alternate target order between rounds
        if [ $((rnd % 2)) = 1 ]; then order="$TARGETS"; else order=$(echo $TARGETS | tr ' ' '\n' | tac | tr '\n' ' '); fi
        for tgt in $order; do
            one_run $tgt $scen $thr $rate $rnd
        done
    done
done
stop_all
trap - EXIT
cat $LOGDIR/fwd-*.log
