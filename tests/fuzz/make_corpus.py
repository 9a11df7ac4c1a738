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
CTL_INFILE_DONE = 0x80
CTL_SEE_ALL = 0x40


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


def main():
    seeds = {"handshake": {}, "resp": {}, "okerr": {}, "compress": {}}
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
