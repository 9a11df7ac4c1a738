#!/bin/bash
# Per-query syscall breakdown at T=1: strace -c -f -p PID over a 5 s sysbench run.
. "$(dirname "$0")/lib.sh"
WORK=${WORK:-/tmp/uring-exp}; cd "$WORK" || exit 2; mkdir -p logs  # after run.sh built fwd there
write_haproxy_cfg haproxy-st.cfg 18906
for tgt in epoll uring uring-noflags uring-waitsends haproxy; do
    case $tgt in
        epoll) ./fwd epoll 18906 2>/dev/null & P=$!;;
        uring) ./fwd uring 18906 2>/dev/null & P=$!;;
        uring-noflags) FWD_URING_FLAGS=0 ./fwd uring 18906 2>/dev/null & P=$!;;
        uring-waitsends) FWD_WAITSENDS=1 ./fwd uring 18906 2>/dev/null & P=$!;;
        haproxy) /usr/sbin/haproxy -db -f haproxy-st.cfg >/dev/null 2>&1 & P=$!;;
    esac
    sleep 0.5
    strace -c -f -p $P -o logs/strace-$tgt.txt & S=$!
    sleep 0.5
    sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=18906 \
      --mysql-user=sluice_test --mysql-password=sluice_test --mysql-db=sluice_test --tables=4 \
      --table-size=10000 --rand-type=uniform --threads=1 --time=5 run > logs/strace-sb-$tgt.txt 2>&1
    kill -INT $S; wait $S
    kill -TERM $P; wait $P
    q=$(awk '/queries:/{print $2; exit}' logs/strace-sb-$tgt.txt)
    echo "== $tgt: queries=$q"
    awk -v q=$q '/^ *[0-9]/ && $NF!="total" { name=$NF; printf "  %-20s %10d calls  %.3f /query\n", name, $4, $4/q } /total/{printf "  %-20s %10d calls  %.3f /query\n", "TOTAL", $3, $3/q}' logs/strace-$tgt.txt
done
