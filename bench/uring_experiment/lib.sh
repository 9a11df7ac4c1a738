# Sourced by run.sh and strace.sh: write_haproxy_cfg FILE PORT writes a
# one-thread HAProxy in mode tcp on 127.0.0.1:PORT in front of node1 (18000).
write_haproxy_cfg() {
    cat > "$1" <<CFG
global
    nbthread 1
    maxconn 2000
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen fwd
    bind 127.0.0.1:$2
    server db1 127.0.0.1:18000
CFG
}
