-- Credit hold: accounting can stop deliveries to an account until an invoice is paid.
-- seasongate: risk=low duration=2m

-- A constant default is stored in the catalog (PostgreSQL 11+): no table rewrite.
ALTER TABLE accounts
    ADD COLUMN credit_hold boolean NOT NULL DEFAULT false,
    ADD COLUMN credit_hold_reason text;
