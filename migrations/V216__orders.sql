-- Orders and order lines. Gastronomy orders by 18:00 for delivery the next morning.
-- seasongate: risk=medium duration=5m

CREATE TABLE orders (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id    bigint NOT NULL REFERENCES customers (id),
    territory      text NOT NULL CHECK (territory IN ('DE', 'CH')),
    order_no       text NOT NULL UNIQUE,
    ordered_at     timestamptz NOT NULL DEFAULT now(),
    delivery_date  date NOT NULL,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'picked', 'delivered', 'cancelled')),
    total_net      numeric(14, 2) NOT NULL DEFAULT 0
);
CREATE INDEX orders_customer_idx ON orders (customer_id);

ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_territory ON orders
    USING (territory = current_setting('app.territory', true));

CREATE TABLE order_lines (
    order_id   bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no    integer NOT NULL,
    sku        text NOT NULL,
    quantity   numeric(10, 3) NOT NULL CHECK (quantity > 0),
    unit       text NOT NULL,
    net_price  numeric(12, 4) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
