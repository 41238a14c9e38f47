-- The seasonal assortment: what is sold during asparagus season, Oktoberfest and Christmas.
-- seasongate: risk=low duration=2m

CREATE TABLE seasonal_items (
    sku             text NOT NULL REFERENCES products (sku),
    season          text NOT NULL CHECK (season IN ('asparagus', 'oktoberfest', 'christmas')),
    territory       text NOT NULL CHECK (territory IN ('DE', 'CH')),
    available_from  date NOT NULL,
    available_to    date NOT NULL,
    PRIMARY KEY (sku, season, territory),
    CHECK (available_to >= available_from)
);

ALTER TABLE seasonal_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY seasonal_items_territory ON seasonal_items
    USING (territory = current_setting('app.territory', true));
