-- docker/init/02-products.sql: the demo app's database and a few products to start with.
-- Runs once, on galera1 only, when its volume is empty (see 01-accounts.sql).
CREATE DATABASE IF NOT EXISTS demo CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- Galera replicates only InnoDB tables with a primary key.
CREATE TABLE IF NOT EXISTS demo.products (
	id         BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name       VARCHAR(200)  NOT NULL,
	price      DECIMAL(10,2) NOT NULL,
	stock      INT           NOT NULL,
	updated_at TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	                         ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

INSERT INTO demo.products (name, price, stock) VALUES
	('Espresso beans, 1 kg',       18.50,  40),
	('Ceramic pour-over dripper',  24.00,  15),
	('Paper filters, pack of 100',  4.20, 200),
	('Burr grinder',               89.90,   7),
	('Gooseneck kettle',           45.00,  12),
	('Milk frothing pitcher',      14.75,  30);
