-- Undo of V224__customer_credit_hold.sql.
ALTER TABLE accounts
    DROP COLUMN credit_hold_reason,
    DROP COLUMN credit_hold;
