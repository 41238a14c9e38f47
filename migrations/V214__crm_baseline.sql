-- CRM baseline: customers and their billing accounts (the history before seasongate, squashed).
-- seasongate: risk=low duration=2m

CREATE TABLE customers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_no  text NOT NULL UNIQUE,
    name         text NOT NULL,
    territory    text NOT NULL CHECK (territory IN ('DE', 'CH')),
    vat_id       text,
    segment      text NOT NULL DEFAULT 'gastronomy'
                 CHECK (segment IN ('gastronomy', 'retail', 'catering', 'canteen')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Sales staff of one country see that country's customers only; the application sets
-- app.territory for each session.
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY customers_territory ON customers
    USING (territory = current_setting('app.territory', true));

CREATE TABLE accounts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id         bigint NOT NULL REFERENCES customers (id),
    account_no          text NOT NULL UNIQUE,
    currency            char(3) NOT NULL CHECK (currency IN ('EUR', 'CHF')),
    credit_limit        numeric(12, 2) NOT NULL DEFAULT 0,
    payment_terms_days  integer NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 120)
);
CREATE INDEX accounts_customer_idx ON accounts (customer_id);
