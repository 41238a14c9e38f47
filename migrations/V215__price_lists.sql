-- Price lists per territory and season; prices are net, per sales unit.
-- seasongate: risk=low duration=2m

CREATE TABLE price_lists (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    territory   text NOT NULL CHECK (territory IN ('DE', 'CH')),
    name        text NOT NULL,
    currency    char(3) NOT NULL CHECK (currency IN ('EUR', 'CHF')),
    valid_from  date NOT NULL,
    valid_to    date,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

ALTER TABLE price_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY price_lists_territory ON price_lists
    USING (territory = current_setting('app.territory', true));

CREATE TABLE price_list_items (
    price_list_id  bigint NOT NULL REFERENCES price_lists (id) ON DELETE CASCADE,
    sku            text NOT NULL,
    unit           text NOT NULL,
    net_price      numeric(12, 4) NOT NULL CHECK (net_price >= 0),
    PRIMARY KEY (price_list_id, sku)
);
