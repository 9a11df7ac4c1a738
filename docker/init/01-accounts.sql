-- docker/init/01-accounts.sql: the accounts of the compose demo. Runs once, on galera1 only,
-- when its volume is empty (the image runs /docker-entrypoint-initdb.d with Galera off);
-- galera2 and galera3 receive everything with their first state transfer.
--
-- tests/test_docker.py checks these passwords against docker/sluice.yaml (password_hash),
-- docker/secrets/monitor.pw and the demo app's command line in docker/compose.yaml.

-- sluice's health checks, with the grants tests/galera.py gives its monitor: SHOW STATUS needs
-- nothing, PROCESS the processlist, REPLICATION CLIENT and SLAVE MONITOR the replication status.
CREATE USER 'monitor'@'%' IDENTIFIED BY 'monitor_pw';
GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'monitor'@'%';

-- The demo app's account. It logs in to sluice (users: in sluice.yaml holds its
-- password_hash) and sluice logs in to the nodes as the same user, from its own address: hence
-- '%', and mysql_native_password (the default of IDENTIFIED BY in MariaDB 10.11).
CREATE USER 'demo'@'%' IDENTIFIED BY 'demo';
GRANT ALL PRIVILEGES ON demo.* TO 'demo'@'%';

-- No anonymous accounts: ''@'localhost' would shadow 'monitor'@'%' for local socket logins.
DROP USER IF EXISTS ''@'localhost';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS \'\'@\'', @@hostname, '\'');
