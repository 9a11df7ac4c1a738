// tests/clients/Clients.java -- MariaDB Connector/J (useServerPrepStmts=true) through sluice
// (tests/test_clients.py runs it with `java -cp mariadb-java-client.jar Clients.java`). Two
// sessions at once, interleaved: server-side prepared SELECTs with the same and different
// texts, a time_zone per session read back each round, a rolled back transaction,
// AUTO_INCREMENT inserts against LAST_INSERT_ID(), CURRENT_USER(). One JSON line per result
// on stdout; the test checks them. Usage: java Clients.java HOST PORT USER PASSWORD DB BASE
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class Clients {
    static final int ROUNDS = 32;
    static final String SA = "SELECT v, ? FROM clients_t WHERE id = ?";
    static final String SB = "SELECT v + 1, ? FROM clients_t WHERE id = ?";
    static final String TZ = "/* sluice:primary */ SELECT @@time_zone, CONNECTION_ID()";

    static String json(Object o) {
        if (o == null) return "null";
        if (o instanceof Number || o instanceof Boolean) return o.toString();
        if (o instanceof List) {
            List<String> parts = new ArrayList<>();
            for (Object x : (List<?>) o) parts.add(json(x));
            return "[" + String.join(", ", parts) + "]";
        }
        if (o instanceof Map) {
            List<String> parts = new ArrayList<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet())
                parts.add(json(e.getKey().toString()) + ": " + json(e.getValue()));
            return "{" + String.join(", ", parts) + "}";
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : o.toString().toCharArray()) {
            if (ch == '"' || ch == '\\') sb.append('\\').append(ch);
            else if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
            else sb.append(ch);
        }
        return sb.append('"').toString();
    }

    static void out(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        System.out.println(json(m));
        System.out.flush();
    }

    static Object[] row(ResultSet rs) throws SQLException {
        if (!rs.next()) return null;
        Object[] r = new Object[rs.getMetaData().getColumnCount()];
        for (int i = 0; i < r.length; i++) r[i] = rs.getObject(i + 1);
        rs.close();
        return r;
    }

    static Object[] query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            return row(st.executeQuery(sql));
        }
    }

    static Object[] prepared(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
            return row(ps.executeQuery());
        }
    }

    static void tz(Connection c, String sess, Object round) throws SQLException {
        Object[] r = query(c, TZ);
        out("ev", "tz", "sess", sess, "round", round, "tz", r[0], "cid", r[1]);
    }

    public static void main(String[] argv) {
        String url = "jdbc:mariadb://" + argv[0] + ":" + argv[1] + "/" + argv[4]
                + "?useServerPrepStmts=true&connectTimeout=20000";
        String user = argv[2], password = argv[3];
        long base = Long.parseLong(argv[5]);
        try {
            Connection a = DriverManager.getConnection(url, user, password);
            Connection b = DriverManager.getConnection(url, user, password);
            Map<String, Connection> s = new LinkedHashMap<>();
            s.put("a", a);
            s.put("b", b);
            for (Map.Entry<String, Connection> e : s.entrySet()) {
                Object[] cu = query(e.getValue(), "SELECT CURRENT_USER()");
                Object[] pcu = prepared(e.getValue(), "SELECT CURRENT_USER(), ?", e.getKey());
                out("ev", "user", "sess", e.getKey(), "current_user", cu[0], "prepared", pcu[0]);
            }
            try (Statement st = a.createStatement()) { st.execute("SET time_zone = '+01:00'"); }
            try (Statement st = b.createStatement()) { st.execute("SET time_zone = '+05:30'"); }
            PreparedStatement sa = a.prepareStatement(SA);
            PreparedStatement sb = b.prepareStatement(SB);
            PreparedStatement sc = b.prepareStatement(SA);
            for (int i = 1; i <= ROUNDS; i++) {
                Object[][] plan = {{"a", "sa", "a", sa}, {"b", "sb", "b", sb}, {"b", "sc", "c", sc}};
                for (Object[] p : plan) {
                    int id = (i * 7) % 100 + 1;
                    PreparedStatement ps = (PreparedStatement) p[3];
                    ps.setString(1, (String) p[2]);
                    ps.setInt(2, id);
                    Object[] r = row(ps.executeQuery());
                    out("ev", "prep", "sess", p[0], "round", i, "stmt", p[1], "id", id,
                        "row", r == null ? null : List.of(r));
                }
                tz(a, "a", i);
                tz(b, "b", i);
                if (i == 16) {
                    // a changes its time zone and closes sa, then prepares it again.
                    try (Statement st = a.createStatement()) {
                        st.execute("SET time_zone = '-03:00'");
                    }
                    sa.close();
                    sa = a.prepareStatement(SA);
                }
            }
            for (Map.Entry<String, Connection> e : s.entrySet()) {
                Connection c = e.getValue();
                long key = base + (e.getKey().equals("a") ? 1 : 2);
                try (Statement st = c.createStatement()) { st.execute("BEGIN"); }
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO clients_tx (id, who) VALUES (?, ?)")) {
                    ps.setLong(1, key);
                    ps.setString(2, e.getKey());
                    ps.executeUpdate();
                }
                List<Object> inside = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT who FROM clients_tx WHERE id = ?")) {
                    ps.setLong(1, key);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) inside.add(rs.getString(1));
                    }
                }
                try (Statement st = c.createStatement()) { st.execute("ROLLBACK"); }
                Object[] after = prepared(c, "SELECT COUNT(*) FROM clients_tx WHERE id = ?", key);
                out("ev", "trx", "sess", e.getKey(), "inside", inside, "after", after[0]);
            }
            for (Map.Entry<String, Connection> e : s.entrySet()) {
                Connection c = e.getValue();
                for (String how : new String[] {"text", "prepared"}) {
                    String who = e.getKey() + "-" + how + "-" + base;
                    long insertId;
                    if (how.equals("text")) {
                        try (Statement st = c.createStatement()) {
                            st.executeUpdate("INSERT INTO clients_ai (who) VALUES ('" + who + "')",
                                             Statement.RETURN_GENERATED_KEYS);
                            ResultSet k = st.getGeneratedKeys();
                            k.next();
                            insertId = k.getLong(1);
                        }
                    } else {
                        try (PreparedStatement ps = c.prepareStatement(
                                "INSERT INTO clients_ai (who) VALUES (?)",
                                Statement.RETURN_GENERATED_KEYS)) {
                            ps.setString(1, who);
                            ps.executeUpdate();
                            ResultSet k = ps.getGeneratedKeys();
                            k.next();
                            insertId = k.getLong(1);
                        }
                    }
                    Object[] lid = query(c, "SELECT LAST_INSERT_ID()");
                    Object[] rw = prepared(c, "SELECT who FROM clients_ai WHERE id = ?", insertId);
                    out("ev", "insert", "sess", e.getKey(), "how", how, "who", who,
                        "insert_id", insertId, "last_insert_id", lid[0],
                        "row_who", rw == null ? null : rw[0]);
                    // An insert keeps its node connection for a few statements (for
                    // LAST_INSERT_ID()); with one connection per node the other session
                    // waits for it, so this one goes on first.
                    for (int k = 0; k < 5; k++) tz(c, e.getKey(), "settle");
                }
            }
            tz(a, "a", "end");
            tz(b, "b", "end");
            a.close();
            b.close();
            out("ev", "done");
        } catch (Exception e) {
            out("ev", "error", "message", e.toString());
            System.exit(1);
        }
    }
}
