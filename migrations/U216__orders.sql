-- Undo of V216__orders.sql.
DROP TABLE order_lines;
DROP TABLE orders;
