-- Products with their allergen declaration (EU food information regulation 1169/2011) and
-- whether they travel in the cold chain.
-- seasongate: risk=low duration=2m

CREATE TABLE products (
    sku         text PRIMARY KEY,
    name        text NOT NULL,
    unit        text NOT NULL CHECK (unit IN ('kg', 'piece', 'crate', 'litre')),
    allergens   text[] NOT NULL DEFAULT '{}',
    cold_chain  boolean NOT NULL DEFAULT false
);
COMMENT ON COLUMN products.allergens IS 'LMIV allergen codes, e.g. {gluten,milk,celery}';
