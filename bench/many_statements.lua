-- bench/many_statements.lua -- point selects from a session that keeps many statements
-- prepared, as an application with a statement cache does (Connector/J's cachePrepStmts,
-- an ORM). Each thread prepares --statements distinct statements at start (the same point
-- select on sbtest1..N with a numbered comment, so each is its own statement) and executes
-- one of them, chosen at random, per event.  What a proxy does per statement must not grow
-- with the number a session keeps: bench/instructions.py counts it with
--   --workloads bench/many_statements.lua --sysbench-arg=--statements=200
-- The tables are sysbench's own (oltp_point_select prepare).

sysbench.cmdline.options = {
   statements = {"Prepared statements each session keeps", 200},
   tables = {"Number of tables", 4},
   table_size = {"Rows per table", 10000},
}

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   stmts = {}
   for i = 1, sysbench.opt.statements do
      local sql = string.format("SELECT c FROM sbtest%d WHERE id=? /* statement %d */",
                                i % sysbench.opt.tables + 1, i)
      local s = con:prepare(sql)
      local p = s:bind_create(sysbench.sql.type.INT)
      s:bind_param(p)
      stmts[i] = {stmt = s, param = p}
   end
end

function event()
   local e = stmts[sysbench.rand.uniform(1, sysbench.opt.statements)]
   e.param:set(sysbench.rand.uniform(1, sysbench.opt.table_size))
   e.stmt:execute()
end

function thread_done()
   for i = 1, #stmts do
      stmts[i].stmt:close()
   end
   con:disconnect()
end
