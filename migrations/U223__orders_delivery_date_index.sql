-- Undo of V223__orders_delivery_date_index.sql.
-- seasongate: transaction=false
DROP INDEX CONCURRENTLY IF EXISTS orders_open_delivery_date_idx;
