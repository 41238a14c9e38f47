-- Delivery routes from the depots; each customer is served by one route.
-- seasongate: risk=medium duration=5m

CREATE TABLE delivery_routes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    territory   text NOT NULL CHECK (territory IN ('DE', 'CH')),
    route_code  text NOT NULL,
    depot       text NOT NULL,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    UNIQUE (territory, route_code)
);

ALTER TABLE delivery_routes ENABLE ROW LEVEL SECURITY;
CREATE POLICY delivery_routes_territory ON delivery_routes
    USING (territory = current_setting('app.territory', true));

-- Nullable and without a default: adding it does not rewrite the customers table.
ALTER TABLE customers ADD COLUMN delivery_route_id bigint REFERENCES delivery_routes (id);
