-- Picking lists read the open orders of a delivery date. Build the index without blocking
-- order intake: CONCURRENTLY, which cannot run inside a transaction.
-- seasongate: transaction=false risk=medium duration=10m

CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_open_delivery_date_idx
    ON orders (delivery_date)
    WHERE status = 'open';
