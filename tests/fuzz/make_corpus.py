#!/usr/bin/python3
"""Write the seed corpora in tests/fuzz/corpus/<target>/ from the captured
packets in tests/unit/fixtures/*.hex, in each target's input format (see the
comment at the top of each fuzz_<target>.c). Rerun after recapturing.

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""

import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "unit", "fixtures")
CORPUS = os.path.join(HERE, "corpus")

SERVER_CAPS = 0x81FFF7FE  # what the captured MariaDB 10.11 offered
CLIENT_SSL = 1 << 11
COM_CHANGE_USER = 0x11
COM_STMT_PREPARE = 0x16
COM_STMT_EXECUTE = 0x17
CTL_INFILE_DONE = 0x80
CTL_SEE_ALL = 0x40

# fuzz_resp_node.c: the commands its options byte picks from, and its bits.
RESP_NODE_COMMANDS = [0x03, 0x16, 0x17, 0x04, 0x09, 0x0e, 0x1c, 0x02,
                      0x0a, 0x1b, 0x1a, 0x1f, 0x0c, 0x0d, 0x07, 0x00]
OPT_SPARSE = 0x10
OPT_INFILE_DONE = 0x20

CONF = os.path.join(HERE, "..", "..", "conf")

# fuzz_config.c: files that load (in its scratch directory, with its
# environment) and files with one or more errors, besides conf/*.yaml.
CONFIG_SEEDS = {
    "full": """workers: 2
buffer_size: 64k
state_file: states
logging: { level: debug, timestamps: off }
listeners:
  - name: app
    bind: "127.0.0.1:3306"
    cluster: c1
    primary_reads: yes
    causal_reads: session
    max_connections: 50
    login_timeout: 2s
    tls: { cert: server.pem, key: server.key, ca: ca.pem }
  - { name: l4, bind: "[::1]:3307", mode: tcp, cluster: c2, route: readers }
clusters:
  - name: c1
    monitor: { user: mon, password_file: pw, interval: 1s, timeout: 2s, fall: 3, rise: 1,
               writer_grace: 0 }
    failback: true
    tls: { verify: ca, ca: ca.pem, cert: server.pem, key: server.key }
    nodes:
      - { name: a, address: "127.0.0.1:3306", weight: 0, priority: 1 }
      - { name: b, address: "localhost:3307" }
  - name: c2
    type: replication
    max_lag: 1m
    queue_timeout: 0
    monitor: { user: mon, password_env: SLUICE_FUZZ_PW }
    nodes: [ { name: r1, address: "10.0.0.1:3306" } ]
users:
  - { name: app, password_hash: "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7" }
  - { name: rep, password_file: pw }
  - { name: env, password_env: SLUICE_FUZZ_PW }
stats: { bind: "*:8080", admin_user: admin, admin_password_file: pw, feed_rate: 0 }
""",
    "errors": """listeners:
  - { name: a, bind: "127.0.0.1:0", mode: mysq, cluster: nope, route: primary }
  - { name: a, bind: "no-such-host:3306", cluster: c }
clusters:
  - name: c
    type: galera
    monitor: { user: m, interval: 10ms, timeout: 5s }
    tls: { cert: missing.pem }
    nodes: []
users:
  - { name: u, password_hash: "*zz", password_env: SLUICE_UNSET_FOR_FUZZ }
  - { name: v, password_file: empty }
stats: { bind: "*:http", admin_user: x }
bogus: 1
""",
    "yaml-features": """a: &x 1
b: *x
c: !!str y
---
d: 2
""",
    "syntax": "listeners: [ { name: a, bind: \"1.2.3.4:5\"\n",
    # Found by fuzz_config: an empty password_file of a user (the flow key
    # "password_file," has no value) crashed the loader.
    "found-user-empty-file": """listeners:
  - { name: a, bind: "421.0.0.1:0", mode: mysq, cluster: nope, route: primary }
  - { name: a, bind: "no-such-host:3306", cluster: c }
clusters:
  - name: c
    type: galera
    monitor: { user: m, interval: 10ms, timeout: 5s }
    tls: { cart: missing.pem }
    nodes: []
users:
  - { rame: u, password_hash: "*zz", password_env: SLUICE_UNSET_FOR_FUZZ }
  - { named: v, password_file,me:pty }
stats: { bind: "*:http", admin_user: x }
bogus: 1
""",
    "empty": "",
    "scalar": "just text\r\nand more",
}


def load(name):
    """[(dir, bytes)] of a fixture: dir is c, s, cz or sz."""
    out = []
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            if line[0] in "cs":
                prefix, hexdata = line.split("> ")
                out.append((prefix, bytes.fromhex(hexdata.strip())))
    return out


def le32(v):
    return v.to_bytes(4, "little")


def commands(pkts):
    """Split a command-phase fixture into (command packet, [packets])."""
    cmds = []
    for d, b in pkts:
        if d == "c" and b[3] == 0:
            cmds.append((b, []))
        elif cmds:
            cmds[-1][1].append((d, b))
    return cmds


def prepared_params(pkts):
    """{statement id: parameter count} from the PREPARE_OK packets."""
    params = {}
    for cmd, rest in commands(pkts):
        if cmd[4] == COM_STMT_PREPARE and rest and rest[0][1][4] == 0:
            ok = rest[0][1][4:]
            if len(ok) >= 12:
                params[int.from_bytes(ok[1:5], "little")] = int.from_bytes(ok[7:9], "little")
    return params


def stmt_record(with_types, seq, payload):
    """One execute in fuzz_stmt.c's input format."""
    return bytes([(seq << 1) | with_types]) + len(payload).to_bytes(2, "little") + payload


def main():
    seeds = {"handshake": {}, "resp": {}, "resp_node": {}, "okerr": {}, "compress": {},
             "stmt": {}, "config": {}}
    logins = ["login_cli.hex", "login_pymysql.hex", "login_pymysql_db.hex",
              "login_auth_switch.hex", "login_denied.hex", "session_compress.hex"]
    for name in logins:
        pkts = load(name)
        base = name[:-4]
        hs = seeds["handshake"]
        hs["greeting-" + base] = b"\x00" + le32(0) + pkts[0][1][4:]
        hs["response-" + base] = b"\x01" + le32(SERVER_CAPS) + pkts[1][1][4:]
        for d, b in pkts[2:]:
            if d == "s" and b[4] == 0xFE:
                hs["switch-" + base] = b"\x02" + le32(0) + b[4:]
            if d == "s" and b[4] in (0x00, 0xFF):
                seeds["okerr"]["login-" + base] = b[4:]
    # An SSLRequest: the CLI's capabilities with CLIENT_SSL, 32 bytes.
    cli = load("login_cli.hex")[1][1][4:]
    caps = int.from_bytes(cli[0:4], "little") | CLIENT_SSL
    seeds["handshake"]["ssl-request"] = (b"\x01" + le32(SERVER_CAPS | CLIENT_SSL) + le32(caps)
                                         + cli[4:32])

    for name in ["cmd_text.hex", "cmd_binary.hex", "cmd_binary_cache_metadata.hex"]:
        base = name[:-4]
        for i, (cmd, rest) in enumerate(commands(load(name))):
            if cmd[4] == COM_CHANGE_USER:
                caps = int.from_bytes(cli[0:4], "little")
                seeds["handshake"]["change-user-" + base] = b"\x03" + le32(caps) + cmd[4:]
            for see_all in (False, True):
                out = bytearray([cmd[4]])
                infile_done = False
                for j, (d, b) in enumerate(rest):
                    if d == "c":
                        infile_done = infile_done or len(b) == 4
                        continue
                    ctl = (CTL_SEE_ALL if see_all else 0) | (CTL_INFILE_DONE if infile_done else 0)
                    infile_done = False
                    out += b[0:3] + bytes([ctl]) + b[4:]
                    if b[4] in (0x00, 0xFE, 0xFF) and len(b) < 200:
                        seeds["okerr"]["%s-%02d-%02d" % (base, i, j)] = b[4:]
                if len(out) > 1:
                    seeds["resp"]["%s-%02d%s" % (base, i, "-all" if see_all else "")] = bytes(out)
    seeds["resp"]["quit"] = b"\x01"

    # The node's bytes as they arrive, after each command a session tracks.
    for name in ["cmd_text.hex", "cmd_binary.hex", "cmd_binary_cache_metadata.hex"]:
        base = name[:-4]
        for i, (cmd, rest) in enumerate(commands(load(name))):
            if cmd[4] not in RESP_NODE_COMMANDS:
                continue
            opts = RESP_NODE_COMMANDS.index(cmd[4])
            if any(d == "c" for d, b in rest):
                opts |= OPT_INFILE_DONE
            node = b"".join(b for d, b in rest if d == "s")
            if node:
                seeds["resp_node"]["%s-%02d" % (base, i)] = bytes([opts]) + node
    # A row of 16 MiB and its continuation, sparse: only what the tracker
    # reads is in the input.
    col = bytes.fromhex("0364656600000001610001610c3f000b000000030342000000")
    seeds["resp_node"]["continuation"] = (
        bytes([OPT_SPARSE]) + b"\x01\x00\x00\x01\x01"
        + len(col).to_bytes(3, "little") + b"\x02" + col
        + b"\x05\x00\x00\x03\xfe\x00\x00\x02\x00"
        + b"\xff\xff\xff\x04\x05" + b"\x05\x00\x00\x05"
        + b"\x05\x00\x00\x06\xfe\x00\x00\x02\x00")

    # Each prepared statement's executes, the first for a node that has not
    # seen the types, then alternately.
    for name in ["cmd_binary.hex", "cmd_binary_cache_metadata.hex"]:
        pkts = load(name)
        params = prepared_params(pkts)
        by_stmt = {}
        for cmd, rest in commands(pkts):
            if cmd[4] == COM_STMT_EXECUTE:
                sid = int.from_bytes(cmd[5:9], "little")
                by_stmt.setdefault(sid, []).append(cmd[4:])
        for sid, execs in sorted(by_stmt.items()):
            if sid not in params:
                continue
            out = params[sid].to_bytes(2, "little") + (0x01020304).to_bytes(4, "little")
            for j, payload in enumerate(execs * 2):
                out += stmt_record(1 - j % 2, j, payload)
            seeds["stmt"]["%s-%d" % (name[:-4], sid)] = out
    # Two parameters: types bound once, then an execute without them for a
    # node that has not seen them, and one cut short.
    first = bytes.fromhex("1701000000000100000000010800fd0005000000000000000261" + "62")
    later = bytes.fromhex("17010000000001000000000006000000000000000163")
    seeds["stmt"]["rebind"] = (b"\x02\x00\x09\x00\x00\x00" + stmt_record(0, 0, later)
                               + stmt_record(1, 0, first) + stmt_record(1, 0, later)
                               + stmt_record(1, 0, later[:11]))
    # Found by fuzz_stmt: a new-params-bound byte of 0xe0, which binds types
    # on the server as 1 does.
    seeds["stmt"]["bound-nonzero"] = bytes.fromhex(
        "020004030201011800170d000000000100000002010800fe000200000000000000021800170d"
        "0001ffff5f60000021e0000001000000020108ffff5f60000021e000fe000200000000000000")
    seeds["stmt"]["no-params"] = (b"\x00\x00\x07\x00\x00\x00"
                                  + stmt_record(1, 0, bytes.fromhex("17010000000001000000"))
                                  + stmt_record(1, 0, b"\x17\x01"))

    for name in sorted(os.listdir(CONF)):
        if name.endswith(".yaml"):
            with open(os.path.join(CONF, name), "rb") as f:
                seeds["config"]["conf-" + name[:-5]] = f.read()
    for name, text in CONFIG_SEEDS.items():
        seeds["config"][name] = text.encode()

    for i, (d, b) in enumerate(load("session_compress.hex")):
        if d.endswith("z"):
            seeds["compress"]["frame-%02d" % i] = b
    seeds["compress"]["empty-stored"] = b"\x00\x00\x00\x00\x00\x00\x00"

    # Deduplicate the OK/ERR/EOF seeds by content.
    unique = {}
    for k, v in sorted(seeds["okerr"].items()):
        unique.setdefault(v, k)
    seeds["okerr"] = {k: v for v, k in unique.items()}

    for target, files in seeds.items():
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for k, v in files.items():
            with open(os.path.join(d, k), "wb") as f:
                f.write(v)
        print("%s: %d seeds" % (target, len(files)))


if __name__ == "__main__":
    main()
